package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/runtime/supervise"
)

// Defaults.
const (
	DefaultRoot          = "/var/lib/undistro"
	DefaultHealthTimeout = 60 * time.Second
	DefaultKeep          = 3
)

// Verifier checks that the image ref, which resolved to digest, may run on
// this node (package policy implements it). Node calls it before every
// switch to a new image; an error leaves the node as it was.
type Verifier interface {
	Verify(ctx context.Context, ref string, digest string) error
}

// Errors callers branch on.
var (
	// ErrRolledBack: the switch happened but the new image's services did
	// not become ready, so the node went back to the previous image. It
	// wraps the reason.
	ErrRolledBack = errors.New("switch rolled back")
	// ErrUnverified: the node has verification keys but no verifier was
	// given.
	ErrUnverified = errors.New("node requires signed images")
)

// Config configures a Node.
type Config struct {
	// Root holds the store, node.json, logs and the socket (default
	// $UNDISTRO_ROOT or /var/lib/undistro).
	Root string
	// Socket is the daemon's unix socket (default Root/undistro.sock).
	Socket string
	// HealthTimeout is how long a switched-to image's services have to be
	// ready before the node rolls back (default 60s).
	HealthTimeout time.Duration
	// Verifier checks images before a switch. Nil is allowed only while
	// Root/keys holds no public key; then every image is accepted, with a
	// warning.
	Verifier Verifier
	// Keep is how many newest images GC keeps besides current and
	// previous (default 3).
	Keep int
	// NoChroot runs services on host paths under the image root instead of
	// chrooted into it (tests, unprivileged use). Without root it is implied.
	NoChroot bool
	// Backoff times service restarts (zero fields: supervise defaults).
	Backoff supervise.Backoff
}

func (c Config) withDefaults() Config {
	if c.Root == "" {
		c.Root = os.Getenv("UNDISTRO_ROOT")
	}
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	if abs, err := filepath.Abs(c.Root); err == nil {
		c.Root = abs // the root also names the node's services (supervise.Options.Tag)
	}
	if c.Socket == "" {
		c.Socket = filepath.Join(c.Root, "undistro.sock")
	}
	if c.HealthTimeout <= 0 {
		c.HealthTimeout = DefaultHealthTimeout
	}
	if c.Keep <= 0 {
		c.Keep = DefaultKeep
	}
	return c
}

// KeysDir is where a node keeps the public keys its policy requires; while
// it holds a .pub file, a Node refuses to switch without a Verifier.
func KeysDir(root string) string { return filepath.Join(root, "keys") }

// hasKeys reports whether KeysDir(root) holds a public key.
func hasKeys(root string) bool { return len(Keys(root)) > 0 }

// Keys returns the public key files the node at root requires, sorted.
func Keys(root string) []string {
	m, _ := filepath.Glob(filepath.Join(KeysDir(root), "*.pub"))
	return m
}

// InstallKey copies the public key file at path into KeysDir(root), named
// by its content's SHA-256, so the node requires signatures by it from now
// on (even from commands not given the key). It returns the installed path.
func InstallKey(root, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("installing key: %w", err)
	}
	if !bytes.Contains(b, []byte("-----BEGIN PUBLIC KEY-----")) {
		return "", fmt.Errorf("installing key %s: not a PEM public key: pass the .pub file of `undistro key generate`", path)
	}
	if err := os.MkdirAll(KeysDir(root), 0o755); err != nil {
		return "", fmt.Errorf("installing key: %w", err)
	}
	h := sha256.Sum256(b)
	dst := filepath.Join(KeysDir(root), hex.EncodeToString(h[:8])+".pub")
	if err := atomicfile.WriteFile(dst, b, 0o644, atomicfile.Step("node.key")); err != nil {
		return "", fmt.Errorf("installing key %s: %w", path, err)
	}
	return dst, nil
}

// Rollback records an automatic or manual rollback.
type Rollback struct {
	Time   time.Time `json:"time"`
	From   string    `json:"from"` // digest rolled back from
	To     string    `json:"to"`   // digest rolled back to
	Reason string    `json:"reason"`
}

// Pending records a switch whose health gate has not passed yet, so a
// daemon that restarts mid-switch finishes the gate.
type Pending struct {
	From string `json:"from"`
	To   string `json:"to"`
	Ref  string `json:"ref"`
}

// state is Root/node.json.
type state struct {
	LastRollback *Rollback `json:"lastRollback,omitempty"`
	Pending      *Pending  `json:"pending,omitempty"`
}

func statePath(root string) string { return filepath.Join(root, "node.json") }

// readState reads node.json; a missing file is an empty state.
func readState(root string) (state, error) {
	var st state
	b, err := os.ReadFile(statePath(root))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading node state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("reading node state %s: %w: move it aside to start afresh", statePath(root), err)
	}
	return st, nil
}

// writeState replaces node.json atomically.
func writeState(root string, st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding node state: %w", err)
	}
	if err := atomicfile.WriteFile(statePath(root), append(b, '\n'), 0o644, atomicfile.Step("node.state")); err != nil {
		return fmt.Errorf("writing node state: %w", err)
	}
	return nil
}
