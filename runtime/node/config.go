package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/runtime/facts"
	"github.com/un-distro/undistro/runtime/render"
	"github.com/un-distro/undistro/runtime/supervise"
)

// Defaults.
const (
	// DefaultRoot is where a node keeps its store, state, logs, keys and
	// socket when neither --root nor $UNDISTRO_ROOT says otherwise. It is
	// the only place this default is written.
	DefaultRoot          = "/var/lib/undistro"
	DefaultHealthTimeout = 60 * time.Second
	DefaultKeep          = 3
)

// RootFromEnv is the default node root: $UNDISTRO_ROOT, or DefaultRoot
// when it is unset or empty.
func RootFromEnv() string {
	if r := os.Getenv("UNDISTRO_ROOT"); r != "" {
		return r
	}
	return DefaultRoot
}

// Errors callers branch on (and see admit.go).
var (
	// ErrRolledBack: the switch happened but the new image's services did
	// not become ready, so the node went back to the previous image. It
	// wraps the reason.
	ErrRolledBack = errors.New("switch rolled back")
	// ErrNoRoot: Config.Root is empty.
	ErrNoRoot = errors.New("empty node root: pass --root DIR or set UNDISTRO_ROOT (default " + DefaultRoot + ")")
)

// Config configures a Node.
type Config struct {
	// Root holds the store, node.json, logs, trusted keys and the socket.
	// It must not be empty (RootFromEnv is the usual value).
	Root string
	// Socket is the daemon's unix socket (default Root/undistro.sock).
	Socket string
	// HealthTimeout is how long a switched-to image's services have to be
	// ready before the node rolls back (default 60s).
	HealthTimeout time.Duration
	// Keep is how many newest images GC keeps besides current and
	// previous (default 3).
	Keep int
	// NoChroot runs services on host paths under the image root instead of
	// chrooted into it (tests, unprivileged use). Without root it is implied.
	NoChroot bool
	// Backoff times service restarts (zero fields: supervise defaults).
	Backoff supervise.Backoff
	// Peer shares verified images' manifests, configs and signatures with
	// peers, and fetches them from peers when the registry cannot serve
	// them (zero: neither).
	Peer PeerConfig
	// Extensions run beside the daemon and serve routes on its socket
	// (the fleet agent is one); see Extension.
	Extensions []Extension
	// NodeConfig is the node's config file: name, tags and per-tag values
	// its templates read (default Root/node.toml; missing: named after
	// the hostname, no values).
	NodeConfig string
	// Facts gathers the node's facts for its templates (default
	// facts.Gather).
	Facts func(context.Context) (facts.Facts, error)
	// Render adds template functions (render.WithFuncs): the extension
	// point of node-side data such as the fleet's peers. Default: the
	// built-in functions.
	Render []render.Option
	// DriftBudget caps the directories the daemon's inotify instance
	// watches for local edits (default drift.DefaultBudget).
	DriftBudget int
	// BitTorrent configures the daemon's BitTorrent client (zero: none).
	BitTorrent BitTorrent
}

func (c Config) withDefaults() (Config, error) {
	if c.Root == "" {
		return c, ErrNoRoot
	}
	abs, err := filepath.Abs(c.Root)
	if err != nil {
		return c, fmt.Errorf("node root %q: %w", c.Root, err)
	}
	c.Root = abs // the root also names the node's services (supervise.Options.Tag)
	if c.Socket == "" {
		c.Socket = filepath.Join(c.Root, "undistro.sock")
	}
	if c.HealthTimeout <= 0 {
		c.HealthTimeout = DefaultHealthTimeout
	}
	if c.Keep <= 0 {
		c.Keep = DefaultKeep
	}
	return c, nil
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
	// Trial is a switch that rolls back unless confirmed in time.
	Trial *Trial `json:"trial,omitempty"`
	// Admitted records, by digest, why each image in the store was
	// accepted (signed by which keys, or unsigned by explicit opt-in).
	Admitted map[string]*Admission `json:"admitted,omitempty"`
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
