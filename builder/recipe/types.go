package recipe

import (
	"fmt"

	"github.com/un-distro/undistro/internal/tomlpos"
)

// Recipe is one package recipe, recipes/NAME.toml.
type Recipe struct {
	Name        string `toml:"name"`
	Version     string `toml:"version"`
	Revision    int    `toml:"revision"`
	Description string `toml:"description"`
	Homepage    string `toml:"homepage"`
	License     string `toml:"license"`
	// Supplier is who supplies the package, as SPDX writes it:
	// "Organization: NAME" or "Person: NAME". Empty: a default from the
	// source kind (see [Recipe.SupplierOf]).
	Supplier string                 `toml:"supplier"`
	Source   Source                 `toml:"source"`
	Deps     Dependencies           `toml:"dependencies"`
	Options  map[string]BuildOption `toml:"options"`
	Build    Build                  `toml:"build"`
	Services []Service              `toml:"service"`
	// Privileged lists paths in this package that may be setuid/setgid.
	Privileged []string `toml:"privileged"`
	// ConfigDirs are the directories (absolute, in the image) where the
	// package reads its configuration: a role file under one is a file
	// every service running from this package (or from a package that
	// run-depends on it) reads.
	ConfigDirs []string `toml:"config_dirs"`

	// File is the path the recipe was loaded from (not part of the TOML).
	File string `toml:"-"`

	// pos records where each key was written; see Pos.
	pos tomlpos.Index
}

// Pos returns the line and column where key was written in r.File, or of
// its closest parent key that was; 1, 1 when nothing is known. Keys are
// paths as in [tomlpos.Index]: "source.sha256", "dependencies.build[1]".
func (r *Recipe) Pos(key string) (line, col int) {
	p := r.pos.Lookup(key)
	return p.Line, p.Col
}

// Errorf returns an *tomlpos.Error at key's position in r.File.
func (r *Recipe) Errorf(key, format string, args ...any) *tomlpos.Error {
	line, col := r.Pos(key)
	return &tomlpos.Error{File: r.File, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// Source is where a package's source comes from. Exactly one kind is set,
// with its checksum.
type Source struct {
	// url + sha256: an archive or file over http, https or file.
	URL    string `toml:"url"`
	SHA256 string `toml:"sha256"`
	// git + commit (full 40-hex hash).
	Git    string `toml:"git"`
	Commit string `toml:"commit"`
	// gomod = "module@version", checked against sum ("h1:…", as in go.sum)
	// and Go's checksum database.
	GoMod string `toml:"gomod"`
	Sum   string `toml:"sum"`
	// deb = binary package name, version, sha256 of the .deb.
	Deb string `toml:"deb"`
	// debsrc = source package name, version; verified by the .dsc checksums.
	DebSrc  string `toml:"debsrc"`
	Version string `toml:"version"`
	// path = a directory inside this repository; exclude lists
	// repository-relative paths left out of it.
	Path    string   `toml:"path"`
	Exclude []string `toml:"exclude"`
}

// Kind returns the source kind: "url", "git", "gomod", "deb", "debsrc",
// "path", or "" if none is set.
func (s Source) Kind() string {
	switch {
	case s.URL != "":
		return "url"
	case s.Git != "":
		return "git"
	case s.GoMod != "":
		return "gomod"
	case s.Deb != "":
		return "deb"
	case s.DebSrc != "":
		return "debsrc"
	case s.Path != "":
		return "path"
	}
	return ""
}

// Dependencies of a package. A build dependency is a recipe name or
// "host:TOOL" (a tool on the build host whose version enters the cache key).
type Dependencies struct {
	Build []string `toml:"build"`
	Run   []string `toml:"run"`
}

// BuildOption is a build flag or variant declared in a recipe's [options]
// table, visible to the build as UNDISTRO_OPT_NAME and overridable per
// role. (Not a functional option: those are builder.Option, source.Option.)
type BuildOption struct {
	Default     any    `toml:"default"` // bool or string
	Description string `toml:"description"`
}

// Build is how the package is built.
type Build struct {
	Env    map[string]string `toml:"env"`
	Script string            `toml:"script"`
}

// Service is a service a package provides; roles enable it by name.
type Service struct {
	Name        string            `toml:"name"`
	Exec        []string          `toml:"exec"`
	Env         map[string]string `toml:"env"`
	User        string            `toml:"user"`
	Restart     string            `toml:"restart"` // always | on-failure | never
	After       []string          `toml:"after"`
	StopTimeout string            `toml:"stop_timeout"` // Go duration
	Ready       *Ready            `toml:"ready"`
	// ConfigDirs are directories whose role files this service reads,
	// besides its package's.
	ConfigDirs []string `toml:"config_dirs"`
	// Reload is how the service rereads its config files without a
	// restart: a signal name ("SIGHUP", "SIGUSR1", "SIGUSR2") or a
	// command (words separated by spaces, no shell), run in the service's
	// sandbox as its user. Empty: a changed config file restarts it.
	Reload string `toml:"reload"`
	// What the service may touch beyond the secure defaults; roles
	// override each field.
	Grants
}

// Ready is a readiness check; exactly one kind is set.
type Ready struct {
	NotifyFD int      `toml:"notify_fd"`
	TCP      string   `toml:"tcp"`
	HTTP     string   `toml:"http"`
	Command  []string `toml:"command"`
	Timeout  string   `toml:"timeout"` // Go duration
}
