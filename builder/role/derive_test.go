package role

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/testsupport"
)

// derivedFixture writes recipes and a role whose services' files and
// packages are derived: config dirs (of a run dependency, of a service),
// paths named in exec and env, and a file the role adds.
func derivedFixture(t *testing.T, roleExtra string, recipeExtra map[string]string) (string, map[string]*recipe.Recipe, error) {
	t.Helper()
	dir := t.TempDir()
	rec := func(name, body string) string {
		top := ""
		if name == "lib" {
			top = "config_dirs = [\"/etc/lib\"]\n"
		}
		return "name = \"" + name + "\"\nversion = \"1\"\n" + top + "[source]\ndebsrc = \"" + name + "\"\nversion = \"1-1\"\n[build]\nscript = \"true\"\n" + body + recipeExtra[name]
	}
	files := map[string]string{
		"recipes/lib.toml":  rec("lib", ""),
		"recipes/ssl.toml":  rec("ssl", "[dependencies]\nrun = [\"lib\"]\n"),
		"recipes/app.toml":  rec("app", "[dependencies]\nrun = [\"ssl\"]\n[[service]]\nname = \"app\"\nexec = [\"/usr/bin/app\", \"--config=/etc/app/main.conf\"]\nenv = { CERT = \"/etc/tls/cert.pem\" }\nreload = \"SIGHUP\"\n"),
		"recipes/tool.toml": rec("tool", "[[service]]\nname = \"tool\"\nexec = [\"/usr/bin/tool\"]\nconfig_dirs = [\"/etc/tool\"]\nreload = \"/usr/bin/tool -reload now\"\n"),
		"images/r.toml": `packages = ["app", "tool"]
[[file]]
path = "/etc/lib/lib.conf"
source = "x"
[[file]]
path = "/etc/app/main.conf"
source = "x"
[[file]]
path = "/etc/app/main.conf.d"
source = "x"
[[file]]
path = "/etc/tls/cert.pem"
source = "x"
[[file]]
path = "/etc/tool/t.conf"
source = "x"
[[file]]
path = "/etc/motd"
source = "x"
[[user]]
name = "app"
uid = 100
gid = 100
[[user]]
name = "tool"
uid = 101
gid = 101
[service.app]
[service.tool]
files = ["/etc/motd"]
` + roleExtra,
		"images/r/x": "x",
	}
	testsupport.WriteFiles(t, dir, files)
	rs, err := recipe.LoadDir(filepath.Join(dir, "recipes"))
	return dir, rs, err
}

func TestServicesDerived(t *testing.T) {
	dir, rs, err := derivedFixture(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load(filepath.Join(dir, "images"), "r")
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := r.Services(rs, []string{"lib", "ssl", "app", "tool"})
	if err != nil {
		t.Fatal(err)
	}
	type dep struct {
		Files, Packages []string
		Reload          any
	}
	got := map[string]dep{}
	for _, s := range svcs {
		got[s.Name] = dep{s.Files, s.Packages, s.Reload}
	}
	b, _ := json.Marshal(got)
	want := `{"app":{"Files":["/etc/app/main.conf","/etc/lib/lib.conf","/etc/tls/cert.pem"],"Packages":["app","lib","ssl"],"Reload":{"signal":"SIGHUP"}},` +
		`"tool":{"Files":["/etc/motd","/etc/tool/t.conf"],"Packages":["tool"],"Reload":{"command":["/usr/bin/tool","-reload","now"]}}}`
	if string(b) != want {
		t.Errorf("derived:\n%s\nwant\n%s", b, want)
	}
}

func TestReloadLint(t *testing.T) {
	tests := []struct {
		name, roleExtra string
		recipes         map[string]string
		want            string
	}{
		{name: "unknown signal in a recipe", recipes: map[string]string{"tool": "[[service]]\nname = \"t2\"\nexec = [\"/bin/t2\"]\nreload = \"SIGHUB\"\n"},
			want: `tool.toml:16:1: service "t2": reload "SIGHUB": signal not allowed: use one of SIGHUP, SIGUSR1, SIGUSR2 (did you mean "SIGHUP"?), or a command`},
		{name: "relative command in a role", roleExtra: "reload = \"tool -r\"\n",
			want: `r.toml:31:1: service "tool": reload "tool -r": want a signal (SIGHUP, SIGUSR1, SIGUSR2) or a command starting with an absolute path, such as "/usr/sbin/nginx -s reload"`},
		{name: "config dir not absolute", recipes: map[string]string{"lib": "[[service]]\nname = \"l\"\nexec = [\"/bin/l\"]\nconfig_dirs = [\"etc/l\"]\n"},
			want: `lib.toml:12:16: service "l": config dir "etc/l": use an absolute, clean directory such as /etc/nginx (not /)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, rs, err := derivedFixture(t, tc.roleExtra, tc.recipes)
			if err == nil {
				var r *Role
				if r, err = Load(filepath.Join(d, "images"), "r"); err == nil {
					_, err = r.Services(rs, []string{"lib", "ssl", "app", "tool"})
				}
			}
			testsupport.WantErr(t, err, tc.want)
		})
	}
}

// TestShippedWebDerivesItsFile: the shipped web role does not list its
// service's files; the builder finds the env file its exec sources.
func TestShippedWebDerivesItsFile(t *testing.T) {
	rs, err := recipe.LoadDir("../../recipes")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load("../../images", "web")
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := r.Services(rs, []string{"busybox", "ca-certificates", "httpbin", "hello"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs {
		if s.Name == "httpbin" {
			if got := strings.Join(s.Files, ","); got != "/etc/httpbin/httpbin.env" {
				t.Errorf("httpbin files = %q, want the env file its exec sources", got)
			}
			return
		}
	}
	t.Fatalf("no httpbin service in %+v", svcs)
}
