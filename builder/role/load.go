package role

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/un-distro/undistro/internal/tomlpos"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// Load reads images/NAME.toml under imagesDir and the roles it inherits,
// and merges them: packages are the union in order (inherited first),
// options, files (by path), users, groups (by name) and service fields are
// taken from the last role that sets them. Every problem of every file
// involved, an unknown or cyclic inherit included, is reported as
// [tomlpos.Errors].
func Load(imagesDir, name string) (*Role, error) {
	l := &loader{dir: imagesDir, files: map[string]*parsed{}}
	r := l.load(name)
	l.errs.Sort()
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return r, nil
}

// LoadAll loads every role in imagesDir, keyed by name. It returns the
// roles that loaded and every problem, sorted.
func LoadAll(imagesDir string) (map[string]*Role, error) {
	names, err := roleNames(imagesDir)
	if err != nil {
		return nil, err
	}
	out := map[string]*Role{}
	var errs tomlpos.Errors
	for _, n := range names {
		r, err := Load(imagesDir, n)
		if err != nil {
			errs.Append(err)
			continue
		}
		out[n] = r
	}
	errs.Sort()
	return out, errs.Err()
}

type loader struct {
	dir   string
	files map[string]*parsed
	errs  tomlpos.Errors
}

func (l *loader) parse(name string) *parsed {
	if p, ok := l.files[name]; ok {
		return p
	}
	p, errs := parseFile(l.dir, name)
	l.files[name] = p
	l.errs = append(l.errs, errs...)
	return p
}

// layers returns name's role files in merge order: inherited first,
// depth first, each once, with name last.
func (l *loader) layers(name string, stack []string, out *[]*parsed) {
	p := l.parse(name)
	if p == nil {
		return
	}
	stack = append(stack, name)
	names, _ := roleNames(l.dir)
	for i, parent := range p.rf.Inherit {
		at := p.at(fmt.Sprintf("inherit[%d]", i))
		switch {
		case slices.Contains(stack, parent):
			cycle := append(slices.Clone(stack[slices.Index(stack, parent):]), parent)
			l.errs = append(l.errs, at.errorf("", "inherit cycle: %s", strings.Join(cycle, " -> ")))
			continue
		case !slices.Contains(names, parent):
			l.errs = append(l.errs, at.errorf("", "inherits unknown role %q%s", parent, tomlpos.Suggest(parent, names)))
			continue
		}
		l.layers(parent, stack, out)
	}
	if !slices.Contains(*out, p) {
		*out = append(*out, p)
	}
}

func (l *loader) load(name string) *Role {
	var layers []*parsed
	l.layers(name, nil, &layers)
	if len(l.errs) > 0 || len(layers) == 0 {
		return nil
	}
	self := layers[len(layers)-1]
	r := &Role{
		Name: name, File: self.file, Description: self.rf.Description, Inherit: self.rf.Inherit,
		Options: map[string]any{}, ServiceOverrides: map[string]*ServiceOverride{},
		pkgAt: map[string]origin{}, optAt: map[string]origin{},
	}
	files := map[string]fileSpec{}
	fileAt := map[string]*parsed{}
	fileKey := map[string]string{}
	users := map[string]imagespec.User{}
	groups := map[string]imagespec.Group{}
	for _, p := range layers {
		for i, pkg := range p.rf.Packages {
			if _, ok := r.pkgAt[pkg]; !ok {
				r.Packages = append(r.Packages, pkg)
			}
			r.pkgAt[pkg] = p.at(fmt.Sprintf("packages[%d]", i))
		}
		for k, v := range p.rf.Options {
			r.Options[k] = v
			r.optAt[k] = p.at(p.optKey[k])
		}
		for i, f := range p.rf.File {
			files[f.Path], fileAt[f.Path], fileKey[f.Path] = f, p, fmt.Sprintf("file[%d]", i)
		}
		for _, u := range p.rf.User {
			users[u.Name] = imagespec.User{Name: u.Name, UID: u.UID, GID: u.GID, Home: u.Home, Shell: u.Shell, Groups: u.Groups}
		}
		for _, g := range p.rf.Group {
			groups[g.Name] = imagespec.Group{Name: g.Name, GID: g.GID}
		}
		if p.rf.Merge != "" {
			r.Config.Merge = p.rf.Merge
		}
		if p.rf.Drift != "" {
			r.Config.Drift = p.rf.Drift
		}
		for svc, s := range p.rf.Service {
			mergeService(r, svc, s, p.at("service."+quoteKey(svc)))
		}
		mergeRelations(r, p)
	}
	for _, u := range users {
		r.Users = append(r.Users, u)
	}
	slices.SortFunc(r.Users, func(a, b imagespec.User) int { return cmp.Compare(a.Name, b.Name) })
	for _, g := range groups {
		r.Groups = append(r.Groups, g)
	}
	slices.SortFunc(r.Groups, func(a, b imagespec.Group) int { return cmp.Compare(a.Name, b.Name) })
	for p, f := range files {
		owner := fileAt[p]
		at := owner.at(fileKey[p])
		if (p == "/etc/passwd" || p == "/etc/group") && (len(r.Users) > 0 || len(r.Groups) > 0) {
			l.errs = append(l.errs, at.errorf(".path", "[[file]] %s: the image's %s is written from the role's [[user]] and [[group]]: declare accounts there instead", p, p))
			continue
		}
		src, err := sourcePath(owner.dir, f.Source)
		if err != nil {
			l.errs = append(l.errs, at.errorf(".source", "[[file]] %s: %v", p, err))
			continue
		}
		mode := uint64(0o644)
		if f.Mode != "" {
			mode, _ = strconv.ParseUint(f.Mode, 8, 32) // checked by parseFile
		}
		uid, gid, err := r.owner(f.Owner)
		if err != nil {
			l.errs = append(l.errs, at.errorf(".owner", "[[file]] %s: owner %q: %v", p, f.Owner, err))
			continue
		}
		r.Files = append(r.Files, File{Path: p, Source: src, RepoPath: path.Join("images", owner.name, filepath.ToSlash(f.Source)),
			Mode: fs.FileMode(mode), UID: uid, GID: gid, Template: f.Template, at: at})
	}
	slices.SortFunc(r.Files, func(a, b File) int { return cmp.Compare(a.Path, b.Path) })
	return r
}

// owner resolves "UID:GID", "USER:GROUP" or "USER" (with the user's group)
// against the role's accounts; "" is 0:0.
func (r *Role) owner(s string) (uid, gid int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(s, ":")
	uid, uerr := strconv.Atoi(u)
	if uerr != nil {
		acct, ok := r.user(u)
		if !ok {
			return 0, 0, fmt.Errorf("no user %q: declare it with [[user]] or use a number", u)
		}
		uid, gid = acct.UID, acct.GID
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if gid, err = strconv.Atoi(g); err == nil {
		return uid, gid, nil
	}
	for _, grp := range r.Groups {
		if grp.Name == g {
			return uid, grp.GID, nil
		}
	}
	if g == "root" {
		return uid, 0, nil
	}
	return 0, 0, fmt.Errorf("no group %q: declare it with [[group]] or use a number", g)
}

func (r *Role) user(name string) (imagespec.User, bool) {
	for _, u := range r.Users {
		if u.Name == name {
			return u, true
		}
	}
	if name == "root" {
		return imagespec.User{Name: "root"}, true
	}
	return imagespec.User{}, false
}

func mergeService(r *Role, name string, s serviceSpec, at origin) {
	o := r.ServiceOverrides[name]
	if o == nil {
		o = &ServiceOverride{Enable: true, from: map[string]origin{}}
		r.ServiceOverrides[name] = o
	}
	o.at = at
	set := func(field string, ok bool, apply func()) {
		if ok {
			apply()
			o.from[field] = at
		}
	}
	o.Enable = s.Enable == nil || *s.Enable
	set("exec", s.Exec != nil, func() { o.Exec = s.Exec })
	set("env", s.Env != nil, func() {
		if o.Env == nil {
			o.Env = map[string]string{}
		}
		for k, v := range s.Env {
			o.Env[k] = v
		}
	})
	set("user", s.User != "", func() { o.User = s.User })
	set("workdir", s.WorkDir != "", func() { o.WorkDir = s.WorkDir })
	set("restart", s.Restart != "", func() { o.Restart = s.Restart })
	set("after", s.After != nil, func() { o.After = s.After })
	set("files", s.Files != nil, func() { o.Files = s.Files })
	set("stop_timeout", s.StopTimeout != "", func() { o.StopTimeout = s.StopTimeout })
	set("ready", s.Ready != nil, func() { o.Ready = s.Ready })
	set("reload", s.Reload != "", func() { o.Reload = s.Reload })
	var keys []string
	o.Grants, keys = o.Grants.OverrideKeys(s.Grants)
	for _, k := range keys {
		o.from[k] = at
	}
}
