package fleet

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/un-distro/undistro/internal/atomicfile"
)

// KeySize is the size of a key GenerateKey writes (AES-256); LoadKey also
// takes the 16- and 24-byte keys serf's keyring accepts.
const KeySize = 32

// ErrKeyMode: the key file is readable by other users.
var ErrKeyMode = errors.New("fleet key file is readable by other users")

// GenerateKey writes a new fleet key to path: base64 of KeySize random
// bytes, mode 0600, atomically. It refuses to replace an existing file (a
// replaced key cuts the node off its fleet).
func GenerateKey(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("writing fleet key %s: the file exists; remove it first if you mean to replace the fleet's key", path)
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return fmt.Errorf("generating fleet key: %w", err)
	}
	data := base64.StdEncoding.EncodeToString(k) + "\n"
	if err := atomicfile.CreateNew(path, []byte(data), 0o600, atomicfile.Step("fleet.key")); err != nil {
		return fmt.Errorf("writing fleet key %s: %w", path, err)
	}
	return nil
}

// LoadKey reads a fleet key file: base64 of 16, 24 or 32 bytes, not
// readable by group or others.
func LoadKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading fleet key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("reading fleet key %s: %w (mode %v): chmod 600 %s", path, ErrKeyMode, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading fleet key: %w", err)
	}
	return ParseKey(path, b)
}

// ParseKey decodes a key file's content; name says where it came from.
func ParseKey(name string, b []byte) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("reading fleet key %s: not base64 (%v): write one with `undistro fleet keygen -o FILE`", name, err)
	}
	switch len(k) {
	case 16, 24, 32:
		return k, nil
	}
	return nil, fmt.Errorf("reading fleet key %s: %d bytes, want 16, 24 or 32: write one with `undistro fleet keygen -o FILE`", name, len(k))
}
