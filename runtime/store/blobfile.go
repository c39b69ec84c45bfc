package store

import (
	"fmt"
	"io/fs"
	"os"
)

// OpenBlob opens the stored blob with this digest ("sha256:HEX") for
// reading, as a node serves it to peers. Blobs enter the store only after
// their digest is checked, so its content is what the digest says (a
// reader that must be sure checks again). The error wraps fs.ErrNotExist
// when the store has no such blob.
func (s *Store) OpenBlob(digest string) (*os.File, error) {
	h, err := hexOf(digest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, fs.ErrNotExist)
	}
	f, err := os.Open(s.path("blobs", "sha256", h))
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", digest, err)
	}
	return f, nil
}
