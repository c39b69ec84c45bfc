package imagespec

import (
	"os"
	"strings"
)

// LayoutPrefix marks a reference to an OCI image layout on disk:
// "oci:PATH[:ROLE]".
const LayoutPrefix = "oci:"

// RefNameAnnotation is the index annotation naming each role's manifest in
// an OCI image layout.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// SplitLayoutRef splits "PATH[:ROLE]" (a layout reference without its
// "oci:" prefix). PATH wins when it names a directory as a whole, so a
// path that contains a colon and no role still works; role is "" when
// none is given.
func SplitLayoutRef(spec string) (path, role string) {
	if fi, err := os.Stat(spec); err == nil && fi.IsDir() {
		return spec, ""
	}
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		return spec[:i], spec[i+1:]
	}
	return spec, ""
}
