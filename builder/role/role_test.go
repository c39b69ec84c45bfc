package role

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
)

func recipes(t *testing.T) map[string]*recipe.Recipe {
	t.Helper()
	rs, err := recipe.LoadDir("testdata/recipes")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		role string
		want []string
	}{
		{"inherit cycle", "cyc-a", []string{
			`testdata/images/cyc-b.toml:2:20: inherit cycle: cyc-a -> cyc-b -> cyc-a`}},
		{"unknown inherit", "badinherit", []string{
			`testdata/images/badinherit.toml:1:12: inherits unknown role "bsae" (did you mean "base"?)`}},
		{"option of the wrong type", "badopts", []string{
			`testdata/images/badopts.toml:7:1: option "lib.level": want boolean or string, got integer`}},
		{"bad service fields", "badsvc", []string{
			`testdata/images/badsvc.toml:7:1: service "srv": restart "sometimes": want one of always, on-failure, never`,
			`testdata/images/badsvc.toml:10:1: service "tool": stop_timeout: "soon" is not a duration: write it like "10s" or "1m30s"`}},
		{"bad files and unknown key", "badfile", []string{
			`testdata/images/badfile.toml:4:1: [[file]]: path "etc/x": use an absolute, clean path in the image such as /etc/app.conf`,
			`testdata/images/badfile.toml:5:1: [[file]] etc/x: source "../base/hostname" escapes testdata/images/badfile: use a path inside it`,
			`testdata/images/badfile.toml:6:1: [[file]] etc/x: mode "999": want an octal string such as "0644"`,
			`testdata/images/badfile.toml:10:1: [[file]] /etc/y: source "missing": no directory testdata/images/badfile for the role's config files: create it`,
			`testdata/images/badfile.toml:13:3: unknown key "fiel" (did you mean "file"?)`}},
		{"passwd written by hand with accounts declared", "badpasswd", []string{
			`testdata/images/badpasswd.toml:4:1: [[file]] /etc/passwd: the image's /etc/passwd is written from the role's [[user]] and [[group]]: declare accounts there instead`}},
		{"owner not declared", "badowner", []string{
			`testdata/images/badowner.toml:4:1: [[file]] /etc/conf: owner "ghost:0": no user "ghost": declare it with [[user]] or use a number`,
			`testdata/images/badowner.toml:9:1: [[file]] /etc/conf2: owner "0:staff": no group "staff": declare it with [[group]] or use a number`}},
		{"bad accounts", "badaccounts", []string{
			`testdata/images/badaccounts.toml:3:3: [[user]]: name "Bad": use lower-case letters, digits and . _ -`,
			`testdata/images/badaccounts.toml:13:3: [[user]] "app": uid and gid must be 0 or more`,
			`testdata/images/badaccounts.toml:14:1: [[user]]: "app" is declared twice`,
			`testdata/images/badaccounts.toml:23:1: [[group]]: "g" is declared twice`,
			`testdata/images/badaccounts.toml:28:1: [[group]] "h": gid must be 0 or more`}},
		{"config policies and templates", "badtmpl", []string{
			`testdata/images/badtmpl.toml:1:1: merge policy "theirs": want "refuse", "keep" or "image": what a switch does with a file under /etc edited on the node that the image changed too`,
			`testdata/images/badtmpl.toml:2:1: drift policy "ignore": want "report" or "revert": what the node does when a managed file under /etc is edited`,
			`testdata/images/badtmpl.toml:7:1: [[file]] /srv/app.conf: a template is rendered into the node's writable /etc: put it under /etc/`,
			`testdata/images/badtmpl/broken.conf:3:1: unclosed action started at testdata/images/badtmpl/broken.conf:2 (template of [[file]] /etc/app.conf)`}},
		{"missing role", "nope", []string{
			`testdata/images/nope.toml: no role "nope": testdata/images/nope.toml does not exist; roles: badaccounts, badfile, badgrants, badinherit, badopts, badopts2, badowner, badpasswd, badrel, badsetuid, badsetuid2, badsvc, badsvc2, badtmpl, base, cyc-a, cyc-b, nouser, rel, sandbox, setuid, tmpl, typo, web`}},
		{"bad relations", "badrel", []string{
			`testdata/images/badrel.toml:4:1: [provides.http]: port 70000: want 1 to 65535`,
			`testdata/images/badrel.toml:7:1: [requires.backends]: role "Web": name the role whose nodes it needs (role = "web")`,
			`testdata/images/badrel.toml:8:1: [requires.backends]: provides "": name what those nodes provide (provides = "http", their [provides.http])`}},
		{"bad grants", "badgrants", []string{
			`testdata/images/badgrants.toml:5:17: service "srv": capability "CAP_NET_RAW": unknown: write it lower-case without cap_, e.g. "net_bind_service" (did you mean "net_raw"?)`,
			`testdata/images/badgrants.toml:6:1: service "srv": network "hots": want one of private, host, none (did you mean "host"?)`,
			`testdata/images/badgrants.toml:7:12: service "srv": seccomp "@clocks": no such group: use one of @clock, @debug, @io-uring, @keyring, @module, @mount, @namespaces, @obsolete, @privileged, @raw-io, @reboot, @swap`,
			`testdata/images/badgrants.toml:8:1: service "srv": memory_max: "lots" is not a size: write it like "64M" or "1G"`,
			`testdata/images/badgrants.toml:9:1: service "srv": cpu_weight 20000: want 1 to 10000 (100 is the default share)`,
			`testdata/images/badgrants.toml:10:21: service "srv": read_write_paths "var/lib": want an absolute, clean directory of the image such as /var/lib/app (not /, /proc, /dev, /sys, /tmp or /run)`,
			`testdata/images/badgrants.toml:11:12: service "srv": publish "localhost:80": want a host address and port such as "127.0.0.1:8080" or "0.0.0.0:80"`,
			`testdata/images/badgrants.toml:11:28: service "srv": publish "127.0.0.1:0": port "0": want 1 to 65535`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load("testdata/images", tc.role)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", r)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	rs := recipes(t)
	tests := []struct {
		name string
		role string
		want []string
	}{
		{"unknown service with suggestion", "typo", []string{
			`testdata/images/typo.toml:4:10: unknown service "srvv" (did you mean "srv"?): no package of role typo provides it (provided: [srv])`}},
		{"option overrides unknown and wrong type", "badopts2", []string{
			`testdata/images/badopts2.toml:1:20: unknown package "libb" (did you mean "lib"?)`,
			`testdata/images/badopts2.toml:4:1: lib has no option "nsl" (did you mean "nls"?) (valid: level, nls)`,
			`testdata/images/badopts2.toml:5:1: option lib.nls: want boolean, got string`,
			`testdata/images/badopts2.toml:6:1: option "srv.x": package srv is not in role badopts2: add it to packages or remove the option`}},
		{"after, files and user not declared", "badsvc2", []string{
			`testdata/images/badsvc2.toml:4:10: service "srv": after "tol": no such service is enabled in role badsvc2`,
			`testdata/images/badsvc2.toml:5:10: service "srv": file "/etc/nope" is not a [[file]] of role badsvc2`,
			`testdata/images/badsvc2.toml:6:1: service "srv": user "nobody" is not declared: add a [[user]] named "nobody" to role badsvc2`}},
		{"allow_setuid without privileged paths", "badsetuid", []string{
			`testdata/images/badsetuid.toml:5:1: service "srv": allow_setuid = true, but no package of role badsetuid declares privileged paths (setuid or setgid programs): remove allow_setuid, which only turns off no_new_privs and nosuid`}},
		{"privileged program without allow_setuid", "badsetuid2", []string{
			`testdata/images/badsetuid2.toml:3:10: service "pinger": runs /usr/bin/ping, a privileged (setuid or setgid) path of package pinger, without allow_setuid = true: the bit would be ignored; set allow_setuid = true or run it as the user it needs`}},
		{"no user and no dedicated one", "nouser", []string{
			`testdata/images/nouser.toml:7:10: service "tool": no user: declare a dedicated [[user]] named "tool" (uid not 0) in role nouser, set user = "NAME" to one it declares, or user = "root" to run it as root`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load("testdata/images", tc.role)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Check(rs, r.Packages)
			if err == nil {
				t.Fatal("Check succeeded")
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestLoadInherit(t *testing.T) {
	r, err := Load("testdata/images", "web")
	if err != nil {
		t.Fatal(err)
	}
	rs := recipes(t)
	if err := r.Check(rs, r.Packages); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Packages, []string{"lib", "srv"}) {
		t.Errorf("Packages = %q, want inherited first, each once", r.Packages)
	}
	if got := r.OptionsFor("lib"); len(got) != 2 || got["nls"] != false || got["level"] != "3" {
		t.Errorf("OptionsFor(lib) = %v (dotted and quoted keys both count)", got)
	}
	type file struct {
		Path, Source string
		Mode         os.FileMode
		UID, GID     int
	}
	var files []file
	for _, f := range r.Files {
		files = append(files, file{f.Path, f.Source, f.Mode, f.UID, f.GID})
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	wantFiles := []file{
		{"/etc/hostname", abs("testdata/images/web/hostname"), 0o444, 0, 0}, // web's wins over base's
		{"/etc/srv.env", abs("testdata/images/web/srv.env"), 0o600, 1000, 1000},
	}
	if !slices.Equal(files, wantFiles) {
		t.Errorf("Files = %+v\nwant %+v", files, wantFiles)
	}
	if len(r.Users) != 2 || r.Users[1].Name != "srv" || len(r.Groups) != 2 {
		t.Errorf("Users %+v Groups %+v: want root and srv from both roles", r.Users, r.Groups)
	}
	svcs, err := r.Services(rs, []string{"lib", "srv"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(svcs)
	want := `[{"name":"srv","package":"srv","exec":["/usr/bin/srv","--port","8080"],"env":["EXTRA=1","LOG=info","MODE=test"],"user":"srv","restart":"always","files":["/etc/srv.env"],"packages":["lib","srv"],"ready":{"http":"http://127.0.0.1:8080/health","timeout":"5s"},"stopTimeout":"3s"}]`
	if string(got) != want {
		t.Errorf("Services:\n%s\nwant:\n%s", got, want)
	}
	// Without the package that provides it, enabling srv is an error.
	if _, err := r.Services(rs, []string{"lib"}); err == nil || !strings.Contains(err.Error(), `testdata/images/web.toml:30:10: unknown service "srv": no package of role web provides it (provided: none)`) {
		t.Errorf("Services without srv: %v", err)
	}
}

// TestFileSourceSymlink checks that a config file cannot escape
// images/ROLE/ through a symlink.
func TestFileSourceSymlink(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	if err := os.MkdirAll(filepath.Join(images, "r"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../secret", filepath.Join(images, "r", "link")); err != nil {
		t.Fatal(err)
	}
	role := "[[file]]\npath = \"/etc/x\"\nsource = \"link\"\n"
	if err := os.WriteFile(filepath.Join(images, "r.toml"), []byte(role), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(images, "r")
	real, _ := filepath.EvalSymlinks(dir)
	want := filepath.Join(images, "r.toml") + `:3:1: [[file]] /etc/x: source "link" resolves to ` + filepath.Join(real, "secret") + ", outside " + filepath.Join(real, "images", "r") + ": use a file inside it"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// TestServiceGrants checks grants reach the image's services, the role's
// overriding the recipe's, and a service without user takes the role's
// dedicated user named after it.
func TestServiceGrants(t *testing.T) {
	r, err := Load("testdata/images", "sandbox")
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := r.Services(recipes(t), r.Packages)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range svcs {
		b, _ := json.Marshal(s.Sandbox)
		got = append(got, s.Name+" "+s.User+" "+string(b))
	}
	want := []string{
		`srv root {"publish":["127.0.0.1:8080"],"seccomp":["@clock"],"tasksMax":10}`,
		`tool tool {"capabilities":["net_bind_service"],"network":"host","memoryMax":67108864,"readWritePaths":["/var/lib/tool"]}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("services:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAllowSetuidChecked checks a service that runs its package's
// privileged program with allow_setuid passes the check the two roles of
// TestCheckErrors fail, and the grant reaches the image.
func TestAllowSetuidChecked(t *testing.T) {
	r, err := Load("testdata/images", "setuid")
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := r.Services(recipes(t), r.Packages)
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 1 || !svcs[0].Sandbox.AllowSetuid {
		t.Errorf("services %+v, want pinger with allow_setuid", svcs)
	}
}

func TestLoadAll(t *testing.T) {
	roles, err := LoadAll("testdata/images")
	if err == nil {
		t.Fatal("LoadAll succeeded over bad roles")
	}
	for _, n := range []string{"base", "web", "typo"} {
		if roles[n] == nil {
			t.Errorf("role %s not loaded", n)
		}
	}
	if strings.Count(err.Error(), "inherit cycle") != 2 {
		t.Errorf("want the cycle reported once per role on it:\n%v", err)
	}
}

func TestLoadRelations(t *testing.T) {
	r, err := Load("testdata/images", "rel")
	if err != nil {
		t.Fatal(err)
	}
	if r.Provides["http"].Port != 8080 || r.Requires["backends"].Role != "web" || r.Requires["backends"].Provides != "http" {
		t.Errorf("relations: provides %+v, requires %+v", r.Provides, r.Requires)
	}
}

func TestTemplateAndConfigPolicy(t *testing.T) {
	r, err := Load("testdata/images", "tmpl")
	if err != nil {
		t.Fatal(err)
	}
	if r.Config.Merge != "keep" || r.Config.Drift != "revert" {
		t.Errorf("config policy %+v", r.Config)
	}
	var got []string
	for _, f := range r.Files {
		got = append(got, f.Path+" "+f.RepoPath+" "+strconv.FormatBool(f.Template))
	}
	want := []string{"/etc/app.conf images/tmpl/app.conf true", "/etc/hostname images/base/hostname false"}
	if !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
}
