package recipe

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"github.com/un-distro/undistro/internal/tomlpos"
	"github.com/un-distro/undistro/runtime/imagespec"
)

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9+._-]*$`)
	versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+~:_-]*$`)
	optionRE  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	envRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hex64RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	hex40RE   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// ValidName reports whether s is a valid recipe name.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Restart policies a service may use.
var restartPolicies = []string{"always", "on-failure", "never"}

type validator struct {
	r    *Recipe
	errs tomlpos.Errors
}

func (v *validator) errorf(key, format string, args ...any) {
	v.errs = append(v.errs, v.r.Errorf(key, format, args...))
}

func (v *validator) validate() {
	r := v.r
	base := strings.TrimSuffix(filepath.Base(r.File), ".toml")
	switch {
	case r.Name == "":
		v.errorf("name", `no name: set name = %q`, base)
	case !nameRE.MatchString(r.Name):
		v.errorf("name", "name %q: use lower-case letters, digits and + . _ - (starting with a letter or digit)", r.Name)
	case r.Name != base:
		v.errorf("name", "name %q does not match the file name %q: rename one of them", r.Name, base)
	}
	switch {
	case r.Version == "":
		v.errorf("version", `no version: set version = "1.2.3"`)
	case !versionRE.MatchString(r.Version):
		v.errorf("version", "version %q: use letters, digits and . + ~ : _ - only", r.Version)
	}
	if r.Revision < 0 {
		v.errorf("revision", "revision %d: must be 0 or more", r.Revision)
	}
	if r.Supplier != "" && !ValidSupplier(r.Supplier) {
		v.errorf("supplier", `supplier %q: write "Organization: NAME" or "Person: NAME" (SPDX), or leave it out for the default of the source kind`, r.Supplier)
	}
	v.source()
	v.deps()
	v.options()
	if strings.TrimSpace(r.Build.Script) == "" {
		v.errorf("build", `[build]: no script: set script = """...""" (run by sh in $SRC)`)
	}
	for k := range r.Build.Env {
		if !envRE.MatchString(k) {
			v.errorf("build.env."+tomlpos.KeyString(k), "[build.env]: %q is not a valid environment variable name", k)
		}
	}
	v.services()
	for i, d := range r.ConfigDirs {
		if msg := configDirProblem(d); msg != "" {
			v.errorf(fmt.Sprintf("config_dirs[%d]", i), "%s", msg)
		}
	}
	for i, p := range r.Privileged {
		if !path.IsAbs(p) || path.Clean(p) != p {
			v.errorf(fmt.Sprintf("privileged[%d]", i), "privileged path %q: use an absolute, clean path such as /usr/bin/ping", p)
		}
	}
}

// sourceKinds are the [source] kinds with the key that selects each and the
// other keys each allows.
var sourceKinds = []struct{ kind, key, want string }{
	{"url", "url", `url needs sha256 = "<64 hex>"`},
	{"git", "git", `git needs commit = "<40 hex>" (a full commit hash)`},
	{"gomod", "gomod", `gomod needs sum = "h1:..." (as in go.sum)`},
	{"deb", "deb", `deb needs version = "..." and sha256 = "<64 hex>" of the .deb`},
	{"debsrc", "debsrc", `debsrc needs version = "..." (the Debian source version)`},
	{"path", "path", ""},
}

func (v *validator) source() {
	s := v.r.Source
	set := map[string]string{"url": s.URL, "git": s.Git, "gomod": s.GoMod, "deb": s.Deb, "debsrc": s.DebSrc, "path": s.Path}
	var kinds []string
	for _, k := range sourceKinds {
		if set[k.key] != "" {
			kinds = append(kinds, k.key)
		}
	}
	switch len(kinds) {
	case 0:
		v.errorf("source", "[source]: no source: set one of url, git, gomod, deb, debsrc or path")
		return
	case 1:
	default:
		v.errorf("source."+kinds[1], "[source]: more than one source kind (%s): keep exactly one", strings.Join(kinds, ", "))
		return
	}
	kind := kinds[0]
	allowed := map[string][]string{
		"url": {"sha256"}, "git": {"commit"}, "gomod": {"sum"}, "deb": {"version", "sha256"},
		"debsrc": {"version"}, "path": {"exclude"},
	}[kind]
	extra := map[string]bool{"sha256": s.SHA256 != "", "commit": s.Commit != "", "sum": s.Sum != "",
		"version": s.Version != "", "exclude": len(s.Exclude) > 0}
	for _, k := range []string{"sha256", "commit", "sum", "version", "exclude"} {
		if extra[k] && !contains(allowed, k) {
			v.errorf("source."+k, "[source]: %s does not belong to a %s source: remove it", k, kind)
		}
	}
	missing := func(key, val string) bool {
		if val == "" {
			for _, k := range sourceKinds {
				if k.kind == kind {
					v.errorf("source", "[source]: no %s: %s", map[string]string{"sha256": "checksum", "commit": "commit", "sum": "checksum", "version": "version"}[key], k.want)
				}
			}
			return true
		}
		return false
	}
	checkHex := func(key, val string, re *regexp.Regexp, n int) {
		if !missing(key, val) && !re.MatchString(val) {
			v.errorf("source."+key, "[source]: %s %q: want %d lower-case hex digits", key, val, n)
		}
	}
	switch kind {
	case "url":
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
			v.errorf("source.url", "[source]: url %q: want an http, https or file URL", s.URL)
		}
		checkHex("sha256", s.SHA256, hex64RE, 64)
	case "git":
		checkHex("commit", s.Commit, hex40RE, 40)
	case "gomod":
		mod, ver, ok := strings.Cut(s.GoMod, "@")
		if !ok {
			v.errorf("source.gomod", `[source]: gomod %q: want "module@version"`, s.GoMod)
		} else if err := module.Check(mod, ver); err != nil {
			v.errorf("source.gomod", "[source]: gomod %q: %v", s.GoMod, err)
		}
		if !missing("sum", s.Sum) {
			if b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s.Sum, "h1:")); !strings.HasPrefix(s.Sum, "h1:") || err != nil || len(b) != 32 {
				v.errorf("source.sum", `[source]: sum %q: want "h1:" and 44 base64 characters, as go mod download -json prints`, s.Sum)
			}
		}
	case "deb", "debsrc":
		if !nameRE.MatchString(set[kind]) {
			v.errorf("source."+kind, "[source]: %s %q is not a Debian package name", kind, set[kind])
		}
		if !missing("version", s.Version) && !versionRE.MatchString(s.Version) {
			v.errorf("source.version", "[source]: version %q is not a Debian version", s.Version)
		}
		if kind == "deb" {
			checkHex("sha256", s.SHA256, hex64RE, 64)
		}
	case "path":
		if msg := relPathProblem(s.Path); msg != "" {
			v.errorf("source.path", "[source]: path %q %s", s.Path, msg)
		}
		for i, e := range s.Exclude {
			if msg := relPathProblem(e); msg != "" || e == "." {
				v.errorf(fmt.Sprintf("source.exclude[%d]", i), "[source]: exclude %q %s", e, cmpOr(msg, "would exclude everything"))
			}
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// relPathProblem says what is wrong with p as a path relative to the
// repository, or "".
func relPathProblem(p string) string {
	switch {
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/"):
		return "is absolute: use a path relative to the repository root"
	case p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.."):
		return `escapes the repository: remove ".."`
	case strings.Contains(p, "\\") || strings.ContainsRune(p, 0):
		return "has a backslash or NUL: use / separators"
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (v *validator) deps() {
	for _, kind := range []string{"build", "run"} {
		list := v.r.Deps.Build
		if kind == "run" {
			list = v.r.Deps.Run
		}
		seen := map[string]bool{}
		for i, d := range list {
			key := fmt.Sprintf("dependencies.%s[%d]", kind, i)
			tool, host := strings.CutPrefix(d, "host:")
			switch {
			case host && kind == "run":
				v.errorf(key, "run dependency %q: host tools are build dependencies only", d)
			case host && !nameRE.MatchString(tool):
				v.errorf(key, "dependency %q: %q is not a valid host tool name", d, tool)
			case !host && !nameRE.MatchString(d):
				v.errorf(key, `dependency %q: want a recipe name or "host:TOOL"`, d)
			case d == v.r.Name:
				v.errorf(key, "dependency %q: a recipe cannot depend on itself", d)
			case seen[d]:
				v.errorf(key, "dependency %q is listed twice", d)
			}
			seen[d] = true
		}
	}
}

func (v *validator) options() {
	for name, o := range v.r.Options {
		key := "options." + tomlpos.KeyString(name)
		if !optionRE.MatchString(name) {
			v.errorf(key, "option %q: use lower-case letters, digits and _ (it becomes %s)", name, OptionEnv(name))
		}
		switch o.Default.(type) {
		case bool, string:
		case nil:
			v.errorf(key, "option %q: no default: set default = true, false or a string", name)
		default:
			v.errorf(key+".default", "option %q: default: want boolean or string, got %s", name, typeName(o.Default))
		}
	}
}

// TypeName names the TOML type of a decoded value: "string", "integer",
// "boolean", "float", "array" or "table".
func TypeName(x any) string { return typeName(x) }

func typeName(x any) string {
	switch x.(type) {
	case int64:
		return "integer"
	case float64:
		return "float"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	case bool:
		return "boolean"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", x)
}

// OptionEnv is the environment variable that carries option name to the
// build: UNDISTRO_OPT_ and the name in upper case.
func OptionEnv(name string) string {
	return "UNDISTRO_OPT_" + strings.ToUpper(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name))
}

func (v *validator) services() {
	seen := map[string]int{}
	for i, s := range v.r.Services {
		key := fmt.Sprintf("service[%d]", i)
		switch j, dup := seen[s.Name]; {
		case s.Name == "":
			v.errorf(key, "[[service]]: no name: set name = %q", v.r.Name)
		case !nameRE.MatchString(s.Name):
			v.errorf(key+".name", "service name %q: use lower-case letters, digits and + . _ -", s.Name)
		case dup:
			v.errorf(key+".name", "service %q is defined twice (first is [[service]] number %d)", s.Name, j+1)
		}
		seen[s.Name] = i
		if len(s.Exec) == 0 || s.Exec[0] == "" {
			v.errorf(key, "service %q: no exec: set exec = [\"/usr/bin/%s\", ...]", s.Name, s.Name)
		} else if !path.IsAbs(s.Exec[0]) {
			v.errorf(key+".exec[0]", "service %q: exec %q: use an absolute path in the image", s.Name, s.Exec[0])
		}
		for _, p := range ServiceProblems(s) {
			v.errorf(key+"."+p.Key, "service %q: %s", s.Name, p.Msg)
		}
	}
}

// Problem is one thing wrong with a service: the key under the service and
// what is wrong with it.
type Problem struct{ Key, Msg string }

// ServiceProblems checks the fields of s that roles may also set: restart
// policy, durations, readiness check and environment names.
func ServiceProblems(s Service) []Problem {
	var out []Problem
	if s.Restart != "" && !contains(restartPolicies, s.Restart) {
		out = append(out, Problem{"restart", fmt.Sprintf("restart %q: want one of %s%s", s.Restart, strings.Join(restartPolicies, ", "), tomlpos.Suggest(s.Restart, restartPolicies))})
	}
	if s.StopTimeout != "" {
		if _, err := ParseDuration(s.StopTimeout); err != nil {
			out = append(out, Problem{"stop_timeout", "stop_timeout: " + err.Error()})
		}
	}
	for k := range s.Env {
		if !envRE.MatchString(k) {
			out = append(out, Problem{"env." + tomlpos.KeyString(k), fmt.Sprintf("env %q is not a valid environment variable name", k)})
		}
	}
	if s.Ready != nil {
		out = append(out, readyProblems(s.Ready)...)
	}
	for i, d := range s.ConfigDirs {
		if msg := configDirProblem(d); msg != "" {
			out = append(out, Problem{fmt.Sprintf("config_dirs[%d]", i), msg})
		}
	}
	if s.Reload != "" {
		if msg := reloadProblem(s.Reload); msg != "" {
			out = append(out, Problem{"reload", msg})
		}
	}
	return append(out, s.Grants.Problems()...)
}

func configDirProblem(d string) string {
	if !path.IsAbs(d) || path.Clean(d) != d || d == "/" {
		return fmt.Sprintf("config dir %q: use an absolute, clean directory such as /etc/nginx (not /)", d)
	}
	return ""
}

// reloadProblem checks a reload: a signal services take as "reread your
// config", or a command with an absolute program path.
func reloadProblem(r string) string {
	signals := slices.Sorted(maps.Keys(imagespec.ReloadSignals))
	if strings.HasPrefix(r, "SIG") {
		if _, ok := imagespec.ReloadSignals[r]; !ok {
			return fmt.Sprintf("reload %q: signal not allowed: use one of %s%s, or a command", r, strings.Join(signals, ", "), tomlpos.Suggest(r, signals))
		}
		return ""
	}
	if argv := strings.Fields(r); len(argv) == 0 || !path.IsAbs(argv[0]) {
		return fmt.Sprintf("reload %q: want a signal (%s) or a command starting with an absolute path, such as \"/usr/sbin/nginx -s reload\"", r, strings.Join(signals, ", "))
	}
	return ""
}

// ParseReload turns a checked reload into the image's form (nil for "").
func ParseReload(r string) *imagespec.Reload {
	switch {
	case r == "":
		return nil
	case strings.HasPrefix(r, "SIG"):
		return &imagespec.Reload{Signal: r}
	}
	return &imagespec.Reload{Command: strings.Fields(r)}
}

func readyProblems(r *Ready) []Problem {
	var out []Problem
	var kinds []string
	if r.NotifyFD != 0 {
		kinds = append(kinds, "notify_fd")
		if r.NotifyFD < 3 {
			out = append(out, Problem{"ready.notify_fd", fmt.Sprintf("ready.notify_fd %d: use 3 or more (0-2 are stdio)", r.NotifyFD)})
		}
	}
	if r.TCP != "" {
		kinds = append(kinds, "tcp")
		if h, p, ok := strings.Cut(r.TCP, ":"); !ok || h == "" || p == "" {
			out = append(out, Problem{"ready.tcp", fmt.Sprintf(`ready.tcp %q: want "host:port"`, r.TCP)})
		}
	}
	if r.HTTP != "" {
		kinds = append(kinds, "http")
		if u, err := url.Parse(r.HTTP); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			out = append(out, Problem{"ready.http", fmt.Sprintf("ready.http %q: want an http:// or https:// URL", r.HTTP)})
		}
	}
	if len(r.Command) > 0 {
		kinds = append(kinds, "command")
	}
	switch len(kinds) {
	case 0:
		out = append(out, Problem{"ready", "ready: no check: set one of notify_fd, tcp, http or command"})
	case 1:
	default:
		out = append(out, Problem{"ready", fmt.Sprintf("ready: more than one check (%s): keep exactly one", strings.Join(kinds, ", "))})
	}
	if r.Timeout != "" {
		if _, err := ParseDuration(r.Timeout); err != nil {
			out = append(out, Problem{"ready.timeout", "ready.timeout: " + err.Error()})
		}
	}
	return out
}

// ParseDuration parses a Go duration such as "10s" or "1m30s"; it must be
// positive.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write it like \"10s\" or \"1m30s\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive", s)
	}
	return d, nil
}
