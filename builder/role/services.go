package role

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/tomlpos"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// DefaultRestart is the restart policy of a service when neither its
// recipe nor the role sets one.
const DefaultRestart = imagespec.RestartAlways

// Services returns the services the role enables among those the packages
// pkgs (the image's packages, run dependencies included) provide, with the
// role's overrides applied, sorted by name: environment as sorted
// "KEY=VALUE", durations parsed. What each service depends on is derived,
// never written by hand: its Packages are its package and that package's
// run dependencies, transitively; its Files are the role's files under a
// config dir of the service or of one of those packages, or named in its
// exec or env, plus the role's `files`. Enabling a service no package provides,
// an `after` naming a service that is not enabled, a `files` entry that is
// not a [[file]] of the role and a user the role does not declare are
// errors ([tomlpos.Errors]) at the role's line and column.
func (r *Role) Services(recipes map[string]*recipe.Recipe, pkgs []string) ([]imagespec.Service, error) {
	type provided struct {
		pkg string
		svc recipe.Service
	}
	byName := map[string]provided{}
	var errs tomlpos.Errors
	for _, pkg := range pkgs {
		rec := recipes[pkg]
		if rec == nil {
			continue
		}
		for i, s := range rec.Services {
			if prev, dup := byName[s.Name]; dup {
				errs = append(errs, rec.Errorf(fmt.Sprintf("service[%d].name", i), "service %q is also provided by package %s: role %s cannot hold both", s.Name, prev.pkg, r.Name))
				continue
			}
			byName[s.Name] = provided{pkg, s}
		}
	}
	// privileged maps each path the image's packages may keep setuid or
	// setgid to its package.
	privileged := map[string]string{}
	for _, pkg := range pkgs {
		if rec := recipes[pkg]; rec != nil {
			for _, p := range rec.Privileged {
				privileged[p] = pkg
			}
		}
	}
	available := slices.Sorted(maps.Keys(byName))
	var enabled []string
	for _, name := range slices.Sorted(maps.Keys(r.ServiceOverrides)) {
		o := r.ServiceOverrides[name]
		if !o.Enable {
			continue
		}
		if _, ok := byName[name]; !ok {
			errs = append(errs, o.at.errorf("", "unknown service %q%s: no package of role %s provides it (provided: %s)",
				name, tomlpos.Suggest(name, available), r.Name, listOrNone(available)))
			continue
		}
		enabled = append(enabled, name)
	}
	files := map[string]bool{}
	for _, f := range r.Files {
		files[f.Path] = true
	}
	var out []imagespec.Service
	for _, name := range enabled {
		o, p := r.ServiceOverrides[name], byName[name]
		s := p.svc
		svc := imagespec.Service{Name: name, Package: p.pkg, Exec: s.Exec, User: s.User, Restart: s.Restart}
		env := maps.Clone(s.Env)
		if env == nil {
			env = map[string]string{}
		}
		maps.Copy(env, o.Env)
		for _, k := range slices.Sorted(maps.Keys(env)) {
			svc.Env = append(svc.Env, k+"="+env[k])
		}
		after, stop, ready := s.After, s.StopTimeout, s.Ready
		if o.Exec != nil {
			svc.Exec = o.Exec
		}
		if o.User != "" {
			svc.User = o.User
		}
		if o.Restart != "" {
			svc.Restart = o.Restart
		}
		if svc.Restart == "" {
			svc.Restart = DefaultRestart
		}
		if o.After != nil {
			after = o.After
		}
		if o.StopTimeout != "" {
			stop = o.StopTimeout
		}
		if o.Ready != nil {
			ready = o.Ready
		}
		svc.WorkDir = o.WorkDir
		if svc.User == "" {
			// The default: the role's dedicated unprivileged user named
			// after the service; root only when asked for by name.
			if u, ok := r.user(name); ok && u.UID != 0 {
				svc.User = name
			} else {
				errs = append(errs, o.errorf("user", "", "service %q: no user: declare a dedicated [[user]] named %q (uid not 0) in role %s, set user = \"NAME\" to one it declares, or user = \"root\" to run it as root", name, name, r.Name))
			}
		} else if _, ok := r.user(svc.User); !ok {
			errs = append(errs, o.errorf("user", "", "service %q: user %q is not declared: add a [[user]] named %q to role %s", name, svc.User, svc.User, r.Name))
		}
		g := s.Grants.Override(o.Grants)
		if len(g.Publish) > 0 && g.Network != "" && g.Network != imagespec.NetworkPrivate {
			errs = append(errs, o.errorf("publish", "", "service %q: publishes %s but its network is %q: only a private network publishes ports", name, g.Publish, g.Network))
		}
		errs = append(errs, setuidProblems(r, o, name, svc.Exec, g, privileged)...)
		svc.Sandbox = g.Sandbox()
		for i, a := range after {
			if !slices.Contains(enabled, a) {
				errs = append(errs, o.errorf("after", fmt.Sprintf("[%d]", i), "service %q: after %q: no such service is enabled in role %s%s", name, a, r.Name, tomlpos.Suggest(a, enabled)))
			}
		}
		svc.After = after
		for i, f := range o.Files {
			if !files[f] {
				errs = append(errs, o.errorf("files", fmt.Sprintf("[%d]", i), "service %q: file %q is not a [[file]] of role %s%s", name, f, r.Name, tomlpos.Suggest(f, slices.Sorted(maps.Keys(files)))))
			}
		}
		svc.Packages = runClosure(recipes, p.pkg, pkgs)
		svc.Files = readFiles(r.Files, recipes, svc, s.ConfigDirs, o.Files)
		reload := s.Reload
		if o.Reload != "" {
			reload = o.Reload
		}
		svc.Reload = recipe.ParseReload(reload) // checked when loaded
		if stop != "" {
			d, _ := recipe.ParseDuration(stop) // checked when loaded
			svc.StopTimeout = imagespec.Duration(d)
		}
		if ready != nil {
			svc.Ready = convertReady(ready)
		}
		out = append(out, svc)
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return out, nil
}

// setuidProblems checks allow_setuid against the image's privileged
// paths: granted with none, it only weakens the sandbox (no_new_privs and
// nosuid off) for nothing; withheld from a service whose program is one,
// the setuid bit is silently ignored.
func setuidProblems(r *Role, o *ServiceOverride, name string, exec []string, g recipe.Grants, privileged map[string]string) []*tomlpos.Error {
	allow := g.AllowSetuid != nil && *g.AllowSetuid
	switch {
	case allow && len(privileged) == 0:
		return []*tomlpos.Error{o.errorf("allow_setuid", "", "service %q: allow_setuid = true, but no package of role %s declares privileged paths (setuid or setgid programs): remove allow_setuid, which only turns off no_new_privs and nosuid", name, r.Name)}
	case !allow && len(exec) > 0 && privileged[exec[0]] != "":
		return []*tomlpos.Error{o.errorf("exec", "", "service %q: runs %s, a privileged (setuid or setgid) path of package %s, without allow_setuid = true: the bit would be ignored; set allow_setuid = true or run it as the user it needs", name, exec[0], privileged[exec[0]])}
	}
	return nil
}

// errorf reports a problem at field (+sub, such as "[2]") where it was last
// set, or at the service table.
func (o *ServiceOverride) errorf(field, sub, format string, args ...any) *tomlpos.Error {
	if at, ok := o.from[field]; ok {
		return at.errorf("."+field+sub, format, args...)
	}
	return o.at.errorf("", format, args...)
}

func convertReady(r *recipe.Ready) *imagespec.Ready {
	var t time.Duration
	if r.Timeout != "" {
		t, _ = recipe.ParseDuration(r.Timeout) // checked when loaded
	}
	return &imagespec.Ready{NotifyFD: r.NotifyFD, TCP: r.TCP, HTTP: r.HTTP, Command: r.Command, Timeout: imagespec.Duration(t)}
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return fmt.Sprint(l)
}

// Check checks the role against the recipes: every package exists, every
// option override names an option of a package in the image with the right
// type, and the services resolve ([Role.Services]). image is the packages
// of the image: the role's packages and their run dependencies.
func (r *Role) Check(recipes map[string]*recipe.Recipe, image []string) error {
	var errs tomlpos.Errors
	names := slices.Sorted(maps.Keys(recipes))
	for _, pkg := range r.Packages {
		if recipes[pkg] == nil {
			at := r.pkgAt[pkg]
			errs = append(errs, at.errorf("", "unknown package %q%s", pkg, tomlpos.Suggest(pkg, names)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Options)) {
		pkg, opt, _ := cutOption(k)
		at := r.optAt[k]
		rec := recipes[pkg]
		switch {
		case rec == nil:
			errs = append(errs, at.errorf("", "option %q: unknown package %q%s", k, pkg, tomlpos.Suggest(pkg, names)))
		case !slices.Contains(image, pkg):
			errs = append(errs, at.errorf("", "option %q: package %s is not in role %s: add it to packages or remove the option", k, pkg, r.Name))
		default:
			if _, err := rec.EffectiveOptions(map[string]any{opt: r.Options[k]}); err != nil {
				errs = append(errs, at.errorf("", "%v", err))
			}
		}
	}
	if _, err := r.Services(recipes, image); err != nil {
		errs.Append(err)
	}
	errs.Sort()
	return errs.Err()
}

func cutOption(k string) (pkg, opt string, ok bool) {
	for i := 0; i < len(k); i++ {
		if k[i] == '.' {
			return k[:i], k[i+1:], true
		}
	}
	return k, "", false
}

// runClosure returns pkg and, transitively, its run dependencies among
// the image's packages, sorted.
func runClosure(recipes map[string]*recipe.Recipe, pkg string, image []string) []string {
	seen := map[string]bool{pkg: true}
	queue := []string{pkg}
	for len(queue) > 0 {
		rec := recipes[queue[0]]
		queue = queue[1:]
		if rec == nil {
			continue
		}
		for _, d := range rec.Deps.Run {
			if !seen[d] && slices.Contains(image, d) {
				seen[d] = true
				queue = append(queue, d)
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// readFiles returns the role files svc reads, sorted: those under one of
// its config dirs or of its packages', those its exec or env names, and
// those the role adds.
func readFiles(files []File, recipes map[string]*recipe.Recipe, svc imagespec.Service, dirs, added []string) []string {
	dirs = slices.Clone(dirs)
	for _, pkg := range svc.Packages {
		if rec := recipes[pkg]; rec != nil {
			dirs = append(dirs, rec.ConfigDirs...)
		}
	}
	set := map[string]bool{}
	for _, f := range added {
		set[f] = true
	}
	for _, f := range files {
		under := slices.ContainsFunc(dirs, func(d string) bool { return strings.HasPrefix(f.Path, d+"/") })
		named := slices.ContainsFunc(svc.Exec, func(a string) bool { return mentions(a, f.Path) }) ||
			slices.ContainsFunc(svc.Env, func(kv string) bool { _, v, _ := strings.Cut(kv, "="); return mentions(v, f.Path) })
		if under || named {
			set[f.Path] = true
		}
	}
	if len(set) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(set))
}

// mentions reports whether s names the path p as a whole word:
// "/etc/a.conf", "--config=/etc/a.conf" or "/etc/a.conf:/etc/b.conf" do,
// "/etc/a.conf.d" does not.
func mentions(s, p string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], p)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(p)
		before := start == 0 || strings.ContainsRune("=:,; '\"", rune(s[start-1]))
		after := end == len(s) || strings.ContainsRune(":,; '\"", rune(s[end]))
		if before && after {
			return true
		}
		i = start + 1
	}
}
