package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// KeyParts is everything that can change a package's build output.
type KeyParts struct {
	// Recipe is the canonical encoding of the recipe.
	Recipe []byte
	// SourceID is the verified source digest ("sha256:…", "h1:…", "git:…").
	SourceID string
	// Options are the effective build options, name -> value.
	Options map[string]string
	// Deps maps each build and run dependency to its own key.
	Deps map[string]string
	// HostTools maps each host: build dependency to its version string.
	HostTools map[string]string
	// Builder is the builder's version.
	Builder string
	// Epoch is SOURCE_DATE_EPOCH, which changes the output's timestamps.
	Epoch int64
}

// keyVersion changes when the key's encoding or the cache layout changes.
const keyVersion = 1

// keyDoc is the canonical JSON form: fixed field order, maps (whose keys
// encoding/json sorts) never null, the recipe by digest.
type keyDoc struct {
	V         int               `json:"v"`
	Recipe    string            `json:"recipe"`
	SourceID  string            `json:"source"`
	Options   map[string]string `json:"options"`
	Deps      map[string]string `json:"deps"`
	HostTools map[string]string `json:"hostTools"`
	Builder   string            `json:"builder"`
	Epoch     int64             `json:"epoch"`
}

// Key returns "sha256:<hex>" over the canonical JSON of p. Nil and empty
// maps give the same key.
func Key(p KeyParts) string {
	rsum := sha256.Sum256(p.Recipe)
	doc := keyDoc{
		V:         keyVersion,
		Recipe:    "sha256:" + hex.EncodeToString(rsum[:]),
		SourceID:  p.SourceID,
		Options:   nonNil(p.Options),
		Deps:      nonNil(p.Deps),
		HostTools: nonNil(p.HostTools),
		Builder:   p.Builder,
		Epoch:     p.Epoch,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		// Strings, string maps and an int64 always encode.
		panic(fmt.Sprintf("encoding cache key: %v", err))
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// keyHex checks that key is "sha256:" and 64 lowercase hex digits and
// returns the hex.
func keyHex(key string) (string, error) {
	h, ok := strings.CutPrefix(key, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("cache key %q is not sha256:<64 lowercase hex digits>; compute it with cache.Key", key)
	}
	return h, nil
}
