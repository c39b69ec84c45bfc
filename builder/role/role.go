package role

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/tomlpos"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// Role is a role with its inheritance resolved.
type Role struct {
	Name        string
	Description string
	// File is the role's own file, images/NAME.toml.
	File string
	// Inherit is the roles this one names, in order (not transitive).
	Inherit []string
	// Packages are the packages the image holds (with their run
	// dependencies), inherited ones first, each once.
	Packages []string
	// Options are build option overrides, "PACKAGE.OPTION" → bool or string.
	Options map[string]any
	// Files are the config files the image gets, sorted by Path.
	Files []File
	// Users and Groups are declared accounts, sorted by name.
	Users  []imagespec.User
	Groups []imagespec.Group
	// ServiceOverrides are the services the role enables or changes, by
	// service name.
	ServiceOverrides map[string]*ServiceOverride
	// Provides and Requires are the role's relations to its peers in a
	// fleet, by name (inherited ones too, overridden by name).
	Provides map[string]imagespec.Provide
	Requires map[string]imagespec.Require
	// Config is the node's policy for local edits of /etc (merge, drift),
	// from the last role that sets each.
	Config imagespec.ConfigPolicy

	pkgAt map[string]origin
	optAt map[string]origin
}

// File is one config file of a role.
type File struct {
	Path   string // absolute path in the image
	Source string // absolute host path, under images/ROLE/
	// RepoPath is Source relative to the recipes repository,
	// "images/ROLE/NAME" (where a node's drift patch points).
	RepoPath string
	Mode     fs.FileMode
	UID      int
	GID      int
	// Template: rendered on the node from its facts (runtime/render).
	Template bool
	at       origin
}

// ServiceOverride is what a role says about one service. Empty fields
// keep what the package's recipe says.
type ServiceOverride struct {
	Enable      bool
	Exec        []string
	Env         map[string]string
	User        string
	WorkDir     string
	Restart     string
	After       []string
	Files       []string
	StopTimeout string
	Ready       *recipe.Ready
	// Reload overrides the recipe's (see recipe.Service.Reload).
	Reload string
	// Grants override the recipe's, field by field.
	Grants recipe.Grants

	at   origin            // the [service.NAME] table that enabled it
	from map[string]origin // field → where it was last set
}

// origin is where something was written: a file, its key index and the
// key.
type origin struct {
	file string
	idx  tomlpos.Index
	key  string
}

func (o origin) errorf(sub, format string, args ...any) *tomlpos.Error {
	p := o.idx.Lookup(o.key + sub)
	return &tomlpos.Error{File: o.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}

// Schema of a role file.
type roleFile struct {
	Description string                 `toml:"description"`
	Inherit     []string               `toml:"inherit"`
	Packages    []string               `toml:"packages"`
	Options     map[string]any         `toml:"options"`
	File        []fileSpec             `toml:"file"`
	User        []userSpec             `toml:"user"`
	Group       []groupSpec            `toml:"group"`
	Service     map[string]serviceSpec `toml:"service"`
	Provides    map[string]provideSpec `toml:"provides"`
	Requires    map[string]requireSpec `toml:"requires"`
	// Merge and Drift are the node's /etc policies (imagespec.ConfigPolicy).
	Merge string `toml:"merge"`
	Drift string `toml:"drift"`
}

type fileSpec struct {
	Path     string `toml:"path"`
	Source   string `toml:"source"`
	Mode     string `toml:"mode"`
	Owner    string `toml:"owner"`
	Template bool   `toml:"template"`
}

type userSpec struct {
	Name   string   `toml:"name"`
	UID    int      `toml:"uid"`
	GID    int      `toml:"gid"`
	Home   string   `toml:"home"`
	Shell  string   `toml:"shell"`
	Groups []string `toml:"groups"`
}

type groupSpec struct {
	Name string `toml:"name"`
	GID  int    `toml:"gid"`
}

type serviceSpec struct {
	Enable      *bool             `toml:"enable"`
	Exec        []string          `toml:"exec"`
	Env         map[string]string `toml:"env"`
	User        string            `toml:"user"`
	WorkDir     string            `toml:"workdir"`
	Restart     string            `toml:"restart"`
	After       []string          `toml:"after"`
	Files       []string          `toml:"files"`
	StopTimeout string            `toml:"stop_timeout"`
	Ready       *recipe.Ready     `toml:"ready"`
	Reload      string            `toml:"reload"`

	recipe.Grants
}

// service returns the spec as a recipe service, for the checks both share.
func (s serviceSpec) service(name string) recipe.Service {
	return recipe.Service{Name: name, Env: s.Env, Restart: s.Restart, StopTimeout: s.StopTimeout, Ready: s.Ready, Reload: s.Reload, Grants: s.Grants}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// parsed is one role file, decoded and checked on its own.
type parsed struct {
	name string
	file string
	dir  string // images/NAME, where its config files are
	idx  tomlpos.Index
	rf   roleFile
	// optKey maps a flattened option ("hello.nls") to its key in idx.
	optKey map[string]string
}

func (p *parsed) at(key string) origin { return origin{file: p.file, idx: p.idx, key: key} }

// checkAccountName checks the name of a [[kind]] (user or group) at key
// is valid and not in seen, which it joins; it reports whether it was.
func (p *parsed) checkAccountName(kind, key, name string, seen map[string]bool, errs *tomlpos.Errors) bool {
	ok := true
	switch {
	case !nameRE.MatchString(name):
		*errs = append(*errs, p.at(key).errorf("", "[[%s]]: name %q: use lower-case letters, digits and . _ -", kind, name))
		ok = false
	case seen[name]:
		*errs = append(*errs, p.at(key).errorf(".name", "[[%s]]: %q is declared twice", kind, name))
		ok = false
	}
	seen[name] = true
	return ok
}

// parseFile reads images/NAME.toml and checks what needs no other file.
func parseFile(imagesDir, name string) (*parsed, tomlpos.Errors) {
	file := filepath.Join(imagesDir, name+".toml")
	data, err := os.ReadFile(file)
	if err != nil {
		msg := fmt.Sprintf("reading role %q: %v", name, err)
		if errors.Is(err, fs.ErrNotExist) {
			msg = fmt.Sprintf("no role %q: %s does not exist%s", name, file, knownRoles(imagesDir, name))
		}
		return nil, tomlpos.Errors{{File: file, Msg: msg}}
	}
	p := &parsed{name: name, file: file, dir: filepath.Join(imagesDir, name)}
	idx, errs := tomlpos.Decode(file, data, &p.rf)
	p.idx = idx
	decoded := errs
	errs = nil
	if !nameRE.MatchString(name) {
		errs = append(errs, p.at("").errorf("", "role name %q: use lower-case letters, digits and . _ - in the file name", name))
	}
	p.checkOptions(&errs)
	p.checkRelations(&errs)
	p.checkConfigPolicy(&errs)
	for i, f := range p.rf.File {
		p.checkFile(i, f, &errs)
	}
	seen := map[string]bool{}
	for i, u := range p.rf.User {
		key := fmt.Sprintf("user[%d]", i)
		p.checkAccountName("user", key, u.Name, seen, &errs)
		if u.UID < 0 || u.GID < 0 {
			errs = append(errs, p.at(key).errorf("", "[[user]] %q: uid and gid must be 0 or more", u.Name))
		}
	}
	seen = map[string]bool{}
	for i, g := range p.rf.Group {
		key := fmt.Sprintf("group[%d]", i)
		if p.checkAccountName("group", key, g.Name, seen, &errs) && g.GID < 0 {
			errs = append(errs, p.at(key).errorf(".gid", "[[group]] %q: gid must be 0 or more", g.Name))
		}
	}
	for name, s := range p.rf.Service {
		key := "service." + quoteKey(name)
		for _, pr := range recipe.ServiceProblems(s.service(name)) {
			errs = append(errs, p.at(key).errorf("."+pr.Key, "service %q: %s", name, pr.Msg))
		}
		if len(s.Exec) > 0 && !path.IsAbs(s.Exec[0]) {
			errs = append(errs, p.at(key).errorf(".exec[0]", "service %q: exec %q: use an absolute path in the image", name, s.Exec[0]))
		}
	}
	return p, append(decoded, tomlpos.DropNear(errs, decoded)...)
}

func quoteKey(k string) string {
	if nameRE.MatchString(k) && !strings.Contains(k, ".") {
		return k
	}
	return strconv.Quote(k)
}

// checkOptions flattens options written as dotted keys (hello.nls = false,
// a table) into "hello.nls" and checks names and types.
func (p *parsed) checkOptions(errs *tomlpos.Errors) {
	flat := map[string]any{}
	p.optKey = map[string]string{}
	for k, v := range p.rf.Options {
		if m, ok := v.(map[string]any); ok {
			for o, ov := range m {
				flat[k+"."+o] = ov
				p.optKey[k+"."+o] = "options." + quoteKey(k) + "." + quoteKey(o)
			}
			continue
		}
		flat[k] = v
		p.optKey[k] = "options." + quoteKey(k)
	}
	p.rf.Options = flat
	for k, v := range flat {
		key := p.optKey[k]
		pkg, opt, ok := strings.Cut(k, ".")
		if !ok || !recipe.ValidName(pkg) || opt == "" {
			*errs = append(*errs, p.at(key).errorf("", `option %q: write "PACKAGE.OPTION" = value, e.g. "hello.nls" = false`, k))
			continue
		}
		switch v.(type) {
		case bool, string:
		default:
			*errs = append(*errs, p.at(key).errorf("", "option %q: want boolean or string, got %s", k, recipe.TypeName(v)))
		}
	}
}

func (p *parsed) checkFile(i int, f fileSpec, errs *tomlpos.Errors) {
	at := p.at(fmt.Sprintf("file[%d]", i))
	if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
		*errs = append(*errs, at.errorf(".path", "[[file]]: path %q: use an absolute, clean path in the image such as /etc/app.conf", f.Path))
	}
	if f.Mode != "" {
		if m, err := strconv.ParseUint(f.Mode, 8, 32); err != nil || m > 0o7777 {
			*errs = append(*errs, at.errorf(".mode", `[[file]] %s: mode %q: want an octal string such as "0644"`, f.Path, f.Mode))
		}
	}
	switch {
	case f.Source == "":
		*errs = append(*errs, at.errorf("", "[[file]] %s: no source: set source = \"FILE\" (a file under %s)", f.Path, p.dir))
		return
	case filepath.IsAbs(f.Source) || f.Source == ".." || strings.HasPrefix(f.Source, "../") || strings.Contains(f.Source, "/../"):
		*errs = append(*errs, at.errorf(".source", "[[file]] %s: source %q escapes %s: use a path inside it", f.Path, f.Source, p.dir))
		return
	}
	src, err := sourcePath(p.dir, f.Source)
	if err != nil {
		*errs = append(*errs, at.errorf(".source", "[[file]] %s: %v", f.Path, err))
		return
	}
	if f.Template {
		p.checkTemplate(at, f, src, errs)
	}
}

// sourcePath resolves a config file's source under dir to an absolute
// path, refusing one that escapes dir through a symlink or is not a
// regular file.
func sourcePath(dir, src string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("source %q: %w", src, err)
	}
	realDir, err := filepath.EvalSymlinks(absDir)
	if err != nil {
		return "", fmt.Errorf("source %q: no directory %s for the role's config files: create it", src, dir)
	}
	p, err := filepath.EvalSymlinks(filepath.Join(realDir, src))
	if err != nil {
		return "", fmt.Errorf("source %q: no file %s: create it or fix the name", src, filepath.Join(dir, src))
	}
	if rel, err := filepath.Rel(realDir, p); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("source %q resolves to %s, outside %s: use a file inside it", src, p, realDir)
	}
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("source %q is not a regular file", src)
	}
	return p, nil
}

// OptionsFor returns the option overrides of pkg, keyed by option name.
func (r *Role) OptionsFor(pkg string) map[string]any {
	out := map[string]any{}
	for k, v := range r.Options {
		if p, o, _ := strings.Cut(k, "."); p == pkg {
			out[o] = v
		}
	}
	return out
}

// roleNames lists the roles in imagesDir.
func roleNames(imagesDir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(imagesDir, "*.toml"))
	if err != nil {
		return nil, fmt.Errorf("listing roles in %s: %w", imagesDir, err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".toml")
	}
	slices.Sort(names)
	return names, nil
}

// knownRoles names the roles that do exist, for an error about one that
// does not: the closest first.
func knownRoles(imagesDir, name string) string {
	paths, _ := filepath.Glob(filepath.Join(imagesDir, "*.toml"))
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".toml"))
	}
	if len(names) == 0 {
		return " (no roles in " + imagesDir + ")"
	}
	return tomlpos.Suggest(name, names) + "; roles: " + strings.Join(names, ", ")
}
