package imagespec

import (
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Label is the image-config label whose value is the JSON encoding of Image.
const Label = "dev.undistro.image.v1"

// LayerAnnotation is the manifest layer annotation naming what a layer holds:
// "pkg:NAME@VERSION" for a package layer or "files:ROLE" for the role's
// config-file layer.
const LayerAnnotation = "dev.undistro.layer"

// SchemaVersion is the version of Image this package reads and writes.
const SchemaVersion = 1

// Restart policies.
const (
	RestartAlways    = "always"
	RestartOnFailure = "on-failure"
	RestartNever     = "never"
)

// Image is the runtime metadata of one role image.
type Image struct {
	SchemaVersion int       `json:"schemaVersion"`
	Role          string    `json:"role"`
	Packages      []Package `json:"packages"`
	Services      []Service `json:"services,omitempty"`
	Files         []File    `json:"files,omitempty"`
	Users         []User    `json:"users,omitempty"`
	Groups        []Group   `json:"groups,omitempty"`
	// Privileged lists paths that may carry setuid/setgid bits or be
	// device nodes; the runtime's unpacker refuses them everywhere else.
	Privileged []string `json:"privileged,omitempty"`
	// Provides and Requires are the role's relations to its peers in a
	// fleet (see Provide, Require), by name.
	Provides map[string]Provide `json:"provides,omitempty"`
	Requires map[string]Require `json:"requires,omitempty"`
	// Config is how the node treats local edits of its writable /etc
	// (see ConfigPolicy); its zero value is the defaults.
	Config ConfigPolicy `json:"config,omitzero"`
}

// Package is one package in the image and the layer that holds it.
type Package struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Revision  int      `json:"revision,omitempty"`
	License   string   `json:"license,omitempty"`
	Supplier  string   `json:"supplier,omitempty"` // SPDX "Organization: X" or "Person: X"
	Source    string   `json:"source"`             // e.g. "url:https://…", "deb:busybox-static=1:1.35.0-4+b3"
	SourceSum string   `json:"sourceDigest"`       // "sha256:…" (or "h1:…" for Go modules, "git:…" for commits)
	BuildKey  string   `json:"buildKey"`           // the builder's cache key, "sha256:…"
	DiffID    string   `json:"diffID"`             // uncompressed layer digest
	Files     []string `json:"files"`              // paths this package owns, sorted, relative to /
}

// File is a config file the role adds.
type File struct {
	Path   string `json:"path"` // absolute path in the image
	Mode   uint32 `json:"mode"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	SHA256 string `json:"sha256"`
	// Source is the file's path in the recipes repository,
	// "images/ROLE/NAME" ("" for generated files such as /etc/passwd):
	// where a local edit found on a node is patched back to.
	Source string `json:"source,omitempty"`
	// Template: the file is a text/template the node renders from its
	// facts and tag values (runtime/render); only under /etc.
	Template bool `json:"template,omitempty"`
}

// User is a user account the role declares.
type User struct {
	Name   string   `json:"name"`
	UID    int      `json:"uid"`
	GID    int      `json:"gid"`
	Home   string   `json:"home,omitempty"`
	Shell  string   `json:"shell,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// Group is a group the role declares.
type Group struct {
	Name string `json:"name"`
	GID  int    `json:"gid"`
}

// Service is one supervised service, after the role's overrides.
type Service struct {
	Name    string   `json:"name"`
	Package string   `json:"package,omitempty"`
	Exec    []string `json:"exec"`
	Env     []string `json:"env,omitempty"` // "KEY=VALUE", sorted
	User    string   `json:"user,omitempty"`
	WorkDir string   `json:"workDir,omitempty"`
	Restart string   `json:"restart"`
	After   []string `json:"after,omitempty"`
	// Files are the config files this service reads, sorted: derived by
	// the builder (a role file under its package's or its own config
	// directory, or named in its exec or env) plus what the role adds. A
	// change restarts it, or reloads it when it declares Reload.
	Files []string `json:"files,omitempty"`
	// Packages are the packages whose files the service runs from: its own
	// and that package's run dependencies, transitively, sorted (derived
	// by the builder). A change in any restarts it. Empty (images built
	// before it was recorded): only Package counts.
	Packages []string `json:"packages,omitempty"`
	// Reload, if set, is how the service takes a change of only its Files
	// without a restart (its PID kept).
	Reload *Reload `json:"reload,omitempty"`
	Ready  *Ready  `json:"ready,omitempty"`
	// StopTimeout is how long to wait after SIGTERM before SIGKILL.
	StopTimeout Duration `json:"stopTimeout,omitempty"`
	// Sandbox is what the service may touch beyond the defaults; its zero
	// value grants nothing.
	Sandbox Sandbox `json:"sandbox,omitzero"`
}

// Reload is how a running service is told to reread its config files.
// Exactly one of the kinds is set.
type Reload struct {
	// Signal is sent to the service's main process, "SIGHUP" style.
	Signal string `json:"signal,omitempty"`
	// Command runs in the service's sandbox, as its user, and must exit 0.
	Command []string `json:"command,omitempty"`
}

// Ready is how the runtime learns a service is ready. Exactly one of the
// kinds is set.
type Ready struct {
	// NotifyFD: the service writes a line to this file descriptor (s6 style).
	NotifyFD int `json:"notifyFD,omitempty"`
	// TCP: "host:port" accepts a connection.
	TCP string `json:"tcp,omitempty"`
	// HTTP: URL answers with a 2xx status.
	HTTP string `json:"http,omitempty"`
	// Command: exits 0 (run in the image root).
	Command []string `json:"command,omitempty"`
	// Timeout is how long the service has to become ready.
	Timeout Duration `json:"timeout,omitempty"`
}

// Duration is a time.Duration that encodes as a Go duration string.
type Duration time.Duration

// MarshalJSON encodes d as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON decodes "1m30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parsing duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// ErrNoMetadata is returned by Decode when an image carries no undistro
// metadata (it was not built by undistro).
var ErrNoMetadata = errors.New("image has no undistro metadata (label " + Label + ")")

// Decode reads Image from an image config's labels.
func Decode(labels map[string]string) (*Image, error) {
	raw, ok := labels[Label]
	if !ok {
		return nil, ErrNoMetadata
	}
	var img Image
	if err := json.Unmarshal([]byte(raw), &img); err != nil {
		return nil, fmt.Errorf("decoding image metadata: %w", err)
	}
	if img.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("image metadata schema version %d, this runtime reads %d: upgrade undistro", img.SchemaVersion, SchemaVersion)
	}
	return &img, nil
}

// Encode returns the label value for img, stamped with [SchemaVersion].
// img is not modified.
func Encode(img *Image) (string, error) {
	c := *img
	c.SchemaVersion = SchemaVersion
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("encoding image metadata: %w", err)
	}
	return string(b), nil
}

// Service returns the service named name, or nil.
func (img *Image) Service(name string) *Service {
	for i := range img.Services {
		if img.Services[i].Name == name {
			return &img.Services[i]
		}
	}
	return nil
}

// ReloadSignals are the signals a service may declare as its Reload.Signal.
var ReloadSignals = map[string]syscall.Signal{
	"SIGHUP":  syscall.SIGHUP,
	"SIGUSR1": syscall.SIGUSR1,
	"SIGUSR2": syscall.SIGUSR2,
}

// Check says what is wrong with r, or nil: exactly one kind, a signal in
// ReloadSignals, a command starting with an absolute path.
func (r *Reload) Check() error {
	switch {
	case r.Signal != "" && len(r.Command) > 0:
		return errors.New("reload sets both a signal and a command: keep one")
	case r.Signal != "":
		if _, ok := ReloadSignals[r.Signal]; !ok {
			return fmt.Errorf("reload signal %q: want SIGHUP, SIGUSR1 or SIGUSR2", r.Signal)
		}
	case len(r.Command) == 0 || r.Command[0] == "":
		return errors.New("reload names no kind: set a signal or a command")
	case r.Command[0][0] != '/':
		return fmt.Errorf("reload command %q: start it with an absolute path", r.Command[0])
	}
	return nil
}
