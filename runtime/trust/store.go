package trust

import (
	"cmp"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/un-distro/undistro/internal/atomicfile"
)

// Dir is where the node at root keeps its trusted keys.
func Dir(root string) string { return filepath.Join(root, "keys") }

// Key is one trusted key.
type Key struct {
	// ID is KeyID of the key.
	ID string `json:"id"`
	// Algorithm is e.g. "ecdsa-p256".
	Algorithm string `json:"algorithm"`
	// Path is the file it is kept in.
	Path string `json:"path"`
	// Key is the public key.
	Key crypto.PublicKey `json:"-"`
}

// Add validates the PEM in b (named src in messages, e.g. a file name or
// "stdin") and stores each public key it holds in Dir(root), one file per
// key named by its ID, written atomically with mode 0644. A private key, or
// anything that is not a supported public key, is refused and nothing is
// stored. Adding a key already trusted changes nothing. It returns the keys
// of b.
func Add(root, src string, b []byte) ([]Key, error) {
	if root == "" {
		return nil, errors.New("adding trusted key: empty node root")
	}
	pubs, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("adding trusted key %s: %w", src, err)
	}
	dir := Dir(root)
	if err := ensureDir(dir); err != nil {
		return nil, fmt.Errorf("adding trusted key %s: %w", src, err)
	}
	var out []Key
	for _, k := range pubs {
		id := KeyID(k)
		pem, err := Encode(k)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, strings.TrimPrefix(id, "sha256:")+".pub")
		if err := writeFile(path, pem); err != nil {
			return nil, fmt.Errorf("adding trusted key %s: %w", src, err)
		}
		out = append(out, Key{ID: id, Algorithm: Algorithm(k), Path: path, Key: k})
	}
	return out, nil
}

// ensureDir creates dir 0700 (and its parent, the root, 0700), or tightens
// an existing one to 0700.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// List returns the trusted keys of root, sorted by ID. A file in Dir(root)
// that is not a public key is an error naming it.
func List(root string) ([]Key, error) {
	out, err := listFiles(root)
	if err != nil {
		return nil, err
	}
	return slices.CompactFunc(out, func(a, b Key) bool { return a.ID == b.ID }), nil
}

// listFiles is List with a key kept in several files listed once per file.
func listFiles(root string) ([]Key, error) {
	if root == "" {
		return nil, errors.New("listing trusted keys: empty node root")
	}
	files, err := filepath.Glob(filepath.Join(Dir(root), "*.pub"))
	if err != nil {
		return nil, fmt.Errorf("listing trusted keys: %w", err)
	}
	var out []Key
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading trusted key: %w", err)
		}
		pubs, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("reading trusted key %s: %w: delete the file, then add the key again with `undistro node trust add`", f, err)
		}
		for _, k := range pubs {
			out = append(out, Key{ID: KeyID(k), Algorithm: Algorithm(k), Path: f, Key: k})
		}
	}
	slices.SortFunc(out, func(a, b Key) int { return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Path, b.Path)) })
	return out, nil
}

// Load returns the trusted public keys of root (none: an empty slice).
func Load(root string) ([]crypto.PublicKey, error) {
	keys, err := List(root)
	if err != nil {
		return nil, err
	}
	out := make([]crypto.PublicKey, len(keys))
	for i, k := range keys {
		out[i] = k.Key
	}
	return out, nil
}

// Remove stops trusting what arg names: a key ID ("sha256:HEX", HEX, or a
// unique prefix of at least 8 hex digits), or a PEM public key file whose
// keys are removed. It returns the keys removed; the error matches
// ErrUnknownKey when none is trusted.
func Remove(root, arg string) ([]Key, error) {
	keys, err := listFiles(root)
	if err != nil {
		return nil, err
	}
	var ids []string
	if b, err := os.ReadFile(arg); err == nil {
		pubs, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("removing trusted key %s: %w", arg, err)
		}
		for _, k := range pubs {
			ids = append(ids, KeyID(k))
		}
	} else {
		id, err := matchID(keys, arg)
		if err != nil {
			return nil, err
		}
		ids = []string{id}
	}
	var removed []Key
	for _, k := range keys {
		if !slices.Contains(ids, k.ID) {
			continue
		}
		if err := os.Remove(k.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("removing trusted key %s: %w", k.ID, err)
		}
		if len(removed) == 0 || removed[len(removed)-1].ID != k.ID {
			removed = append(removed, k)
		}
	}
	if len(removed) == 0 {
		return nil, fmt.Errorf("removing trusted key %s: %w (see `undistro node trust list`)", arg, ErrUnknownKey)
	}
	return removed, atomicfile.SyncDir(Dir(root), atomicfile.Step("trust.remove"))
}

func matchID(keys []Key, arg string) (string, error) {
	h := strings.TrimPrefix(arg, "sha256:")
	if len(h) < 8 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("removing trusted key: %q is neither a key file nor a key ID (sha256:HEX or at least 8 hex digits of one)", arg)
	}
	var found []string
	for _, k := range keys {
		if strings.HasPrefix(strings.TrimPrefix(k.ID, "sha256:"), h) && !slices.Contains(found, k.ID) {
			found = append(found, k.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("removing trusted key %s: %w (see `undistro node trust list`)", arg, ErrUnknownKey)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("removing trusted key: %q matches %d keys (%s): give more digits", arg, len(found), strings.Join(found, ", "))
}
