package source

import (
	"errors"
	"fmt"
)

var (
	// ErrChecksumMismatch is matched (errors.Is) by every *MismatchError.
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrUnsafeArchive is returned when an archive holds an absolute path,
	// a ".." element, a link leading out of the tree, or a device node.
	ErrUnsafeArchive = errors.New("unsafe archive")
	// ErrEscape is returned when a path source leaves the repository.
	ErrEscape = errors.New("path leaves the repository")
	// ErrBadSource is returned when a recipe's source is incomplete or
	// malformed (a checksum missing or of the wrong shape).
	ErrBadSource = errors.New("bad source")
)

// MismatchError reports a fetched source whose checksum differs from the
// one its recipe declares. Nothing is kept in the cache when it occurs.
type MismatchError struct {
	Want   string // the recipe's checksum, e.g. "sha256:…" or "h1:…"
	Got    string // the checksum of what was downloaded, same form
	Source string // what was fetched: URL, module@version, deb:pkg=ver, …
	Key    string // the recipe key to fix: "sha256" or "sum"
	Recipe string // the recipe file, when known
}

func (e *MismatchError) Error() string {
	key, recipe := e.Key, e.Recipe
	if key == "" {
		key = "sha256"
	}
	if recipe == "" {
		recipe = "the recipe"
	}
	return fmt.Sprintf("checksum mismatch for %s: recipe says %s, downloaded %s; fix the %s in %s if the new file is trusted",
		e.Source, e.Want, e.Got, key, recipe)
}

// Is makes errors.Is(err, ErrChecksumMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrChecksumMismatch }
