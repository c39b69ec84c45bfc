package imagespec

import "strings"

// LayoutPrefix marks a reference to an OCI image layout on disk:
// "oci:PATH[:ROLE]".
const LayoutPrefix = "oci:"

// RefNameAnnotation is the index annotation naming each role's manifest in
// an OCI image layout.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// SplitLayoutRef splits "PATH[:ROLE]" (a layout reference without its
// "oci:" prefix) at its last colon; role is "" when none is given. It reads
// nothing itself: a PATH that contains a colon and no role looks like
// PATH:ROLE, so the caller, which knows where to look, says with isDir
// whether a path is a directory, and the whole spec wins when it is one.
// A nil isDir means no path is.
func SplitLayoutRef(spec string, isDir func(path string) bool) (path, role string) {
	if isDir != nil && isDir(spec) {
		return spec, ""
	}
	// A role never holds a "/": a colon before the last path element is
	// part of the path.
	if i := strings.LastIndexByte(spec, ':'); i >= 0 && !strings.Contains(spec[i+1:], "/") {
		return spec[:i], spec[i+1:]
	}
	return spec, ""
}
