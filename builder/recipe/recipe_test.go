package recipe

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/tomlpos"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestLoadBad(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // every line of the error, in order
	}{
		{"syntax error", "syntax", []string{
			`testdata/bad/syntax.toml:3:8: syntax error: expected ']' to close table name`}},
		{"unknown key", "unknown-key", []string{
			`testdata/bad/unknown-key.toml:1:1: [source]: no source: set one of url, git, gomod, deb, debsrc or path`,
			`testdata/bad/unknown-key.toml:4:2: unknown key "sourec" (did you mean "source"?)`,
			`testdata/bad/unknown-key.toml:10:1: unknown key "scirpt" in [build] (did you mean "script"?)`}},
		{"wrong type", "wrong-type", []string{
			`testdata/bad/wrong-type.toml:3:1: key "revision": want integer, got string`,
			`testdata/bad/wrong-type.toml:10:1: key "dependencies.build": want array, got string`,
			`testdata/bad/wrong-type.toml:11:8: key "dependencies.run[0]": want string, got integer`}},
		{"missing checksum", "missing-checksum", []string{
			`testdata/bad/missing-checksum.toml:4:2: [source]: no checksum: url needs sha256 = "<64 hex>"`}},
		{"bad checksum format", "bad-checksum", []string{
			`testdata/bad/bad-checksum.toml:6:1: [source]: commit "abc123": want 40 lower-case hex digits`}},
		{"two source kinds", "two-sources", []string{
			`testdata/bad/two-sources.toml:7:1: [source]: more than one source kind (url, git): keep exactly one`}},
		{"path escaping the repo", "path-escape", []string{
			`testdata/bad/path-escape.toml:5:1: [source]: path "../../etc" escapes the repository: remove ".."`}},
		{"supplier not SPDX", "bad-supplier", []string{
			`testdata/bad/bad-supplier.toml:3:1: supplier "ACME Corp": write "Organization: NAME" or "Person: NAME" (SPDX), or leave it out for the default of the source kind`}},
		{"name does not match file", "name-mismatch", []string{
			`testdata/bad/name-mismatch.toml:1:1: name "other" does not match the file name "name-mismatch": rename one of them`}},
		{"duplicate key and table", "duplicate-key", []string{
			`testdata/bad/duplicate-key.toml:3:1: key "version" is defined twice (first at line 2)`,
			`testdata/bad/duplicate-key.toml:12:2: table [source] is defined twice (first at line 5)`}},
		{"service grants", "grants", []string{
			`testdata/bad/grants.toml:10:17: service "web": capability "NET_ADMIN": unknown: write it lower-case without cap_, e.g. "net_bind_service" (did you mean "net_admin"?)`,
			`testdata/bad/grants.toml:11:1: service "web": network "bridge": want one of private, host, none`,
			`testdata/bad/grants.toml:12:12: service "web": seccomp "read": not a system call the default filter refuses (@system-service refuses the groups @clock, @debug, @io-uring, @keyring, @module, @mount, @namespaces, @obsolete, @privileged, @raw-io, @reboot, @swap)`,
			`testdata/bad/grants.toml:13:1: service "web": tasks_max -1: must be 1 or more`,
			`testdata/bad/grants.toml:14:1: service "web": tmp_size: "big" is not a size: write it like "64M" or "1G"`,
			`testdata/bad/grants.toml:15:21: service "web": read_write_paths "/tmp/state": want an absolute, clean directory of the image such as /var/lib/app (not /, /proc, /dev, /sys, /tmp or /run)`,
			`testdata/bad/grants.toml:16:12: service "web": publish "127.0.0.1:80": only a private network publishes ports (network is "bridge"): remove one of them`}},
		{"every other check at once", "everything", []string{
			`testdata/bad/everything.toml:1:1: [build]: no script: set script = """...""" (run by sh in $SRC)`,
			`testdata/bad/everything.toml:1:1: no version: set version = "1.2.3"`,
			`testdata/bad/everything.toml:4:1: [source]: gomod "example.com/x": want "module@version"`,
			`testdata/bad/everything.toml:5:1: [source]: sum "h2:abc": want "h1:" and 44 base64 characters, as go mod download -json prints`,
			`testdata/bad/everything.toml:6:1: [source]: sha256 does not belong to a gomod source: remove it`,
			`testdata/bad/everything.toml:9:10: dependency "Bad Name": want a recipe name or "host:TOOL"`,
			`testdata/bad/everything.toml:9:34: dependency "host:gcc" is listed twice`,
			`testdata/bad/everything.toml:10:8: run dependency "host:make": host tools are build dependencies only`,
			`testdata/bad/everything.toml:12:10: option "nls": no default: set default = true, false or a string`,
			`testdata/bad/everything.toml:16:1: option "level": default: want boolean or string, got integer`,
			`testdata/bad/everything.toml:20:9: service "web": exec "bin/web": use an absolute path in the image`,
			`testdata/bad/everything.toml:21:1: service "web": restart "sometimes": want one of always, on-failure, never`,
			`testdata/bad/everything.toml:22:1: service "web": stop_timeout: "5 seconds" is not a duration: write it like "10s" or "1m30s"`,
			`testdata/bad/everything.toml:23:1: service "web": ready: more than one check (tcp, http): keep exactly one`,
			`testdata/bad/everything.toml:26:1: service "web" is defined twice (first is [[service]] number 1)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load(filepath.Join("testdata", "bad", tc.file+".toml"))
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want errors", r)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
			var errs tomlpos.Errors
			if !asErrors(err, &errs) || len(errs) != len(tc.want) {
				t.Errorf("error is not tomlpos.Errors with %d items: %#v", len(tc.want), err)
			}
		})
	}
}

func asErrors(err error, out *tomlpos.Errors) bool {
	es, ok := err.(tomlpos.Errors)
	*out = es
	return ok
}

// TestLoadPathSource builds a small repository with symlinks: a path
// source must stay inside the repository after symlinks are resolved.
func TestLoadPathSource(t *testing.T) {
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	for _, d := range []string{"repo/recipes", "repo/src/app", "outside"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../outside", filepath.Join(repo, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("src/app", filepath.Join(repo, "inside")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"plain directory", "src/app", ""},
		{"repository root", ".", ""},
		{"symlink inside", "inside", ""},
		{"symlink escaping", "escape", `[source]: path "escape" resolves to ` + filepath.Join(tmp, "outside") + `, outside the repository ` + repo + `: use a directory inside it`},
		{"missing directory", "nope", `[source]: path "nope": lstat ` + filepath.Join(repo, "nope") + `: no such file or directory`},
		{"dot dot", "src/../../outside", `[source]: path "src/../../outside" escapes the repository: remove ".."`},
		{"absolute", "/etc", `[source]: path "/etc" is absolute: use a path relative to the repository root`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(repo, "recipes", "app.toml")
			data := "name = \"app\"\nversion = \"1\"\n[source]\npath = \"" + tc.path + "\"\nexclude = [\"recipes\"]\n[build]\nscript = \"true\"\n"
			if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Load(file)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				dir, err := r.SourceDir()
				if err != nil || !strings.HasPrefix(dir, repo) {
					t.Errorf("SourceDir = %q, %v; want a directory in %s", dir, err, repo)
				}
				return
			}
			want := file + ":4:1: " + tc.want
			if err == nil || err.Error() != want {
				t.Errorf("Load error:\n%v\nwant:\n%s", err, want)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	a, err := Load("testdata/good/hello.toml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load("testdata/reordered/hello.toml")
	if err != nil {
		t.Fatal(err)
	}
	got := a.Canonical()
	if !bytes.Equal(got, b.Canonical()) {
		t.Errorf("same recipe written differently gives different canonical forms:\n%s\n%s", got, b.Canonical())
	}
	want := testsupport.Golden(t, "testdata/hello.canonical.json", got, *update)
	a.Revision++
	if bytes.Equal(a.Canonical(), want) {
		t.Error("changing the revision does not change the canonical form")
	}
	a.Revision--
	a.File = "elsewhere/hello.toml"
	if !bytes.Equal(a.Canonical(), want) {
		t.Error("the file name changes the canonical form")
	}
}

func TestPos(t *testing.T) {
	r, err := Load("testdata/good/hello.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key       string
		line, col int
	}{
		{"name", 2, 1},
		{"source", 9, 2},
		{"source.debsrc", 10, 1},
		{"dependencies.build[2]", 14, 35},
		{"service[1].ready.http", 43, 7},
		{"service[1].nope", 40, 3},
		{"nope", 1, 1},
	}
	for _, tc := range tests {
		if l, c := r.Pos(tc.key); l != tc.line || c != tc.col {
			t.Errorf("Pos(%q) = %d:%d, want %d:%d", tc.key, l, c, tc.line, tc.col)
		}
	}
}

func TestEffectiveOptions(t *testing.T) {
	r, err := Load("testdata/good/hello.toml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		overrides map[string]any
		want      map[string]string
		wantErr   string
	}{
		{"defaults", nil, map[string]string{"nls": "true", "greeting": "hi"}, ""},
		{"override both", map[string]any{"nls": false, "greeting": "hello"}, map[string]string{"nls": "false", "greeting": "hello"}, ""},
		{"unknown option", map[string]any{"nsl": false}, nil, `hello has no option "nsl" (did you mean "nls"?) (valid: greeting, nls)`},
		{"wrong type", map[string]any{"nls": "no"}, nil, `option hello.nls: want boolean, got string`},
		{"wrong type string", map[string]any{"greeting": int64(1)}, nil, `option hello.greeting: want string, got integer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.EffectiveOptions(tc.overrides)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("option %s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
	if got := OptionEnv("nls"); got != "UNDISTRO_OPT_NLS" {
		t.Errorf("OptionEnv = %q", got)
	}
}

func TestLoadDir(t *testing.T) {
	got, err := LoadDir("testdata/bad")
	if err == nil {
		t.Fatal("LoadDir of bad recipes succeeded")
	}
	if len(got) != 0 {
		t.Errorf("LoadDir returned %d recipes from testdata/bad, want 0", len(got))
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) < 10 || !strings.HasPrefix(lines[0], "testdata/bad/bad-checksum.toml:") {
		t.Errorf("LoadDir error is not every problem sorted by file:\n%v", err)
	}
	good, err := LoadDir("testdata/good")
	if err != nil || good["hello"] == nil {
		t.Errorf("LoadDir(good) = %v, %v", good, err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.toml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz/hello.toml", data)
		if err != nil {
			if r != nil {
				t.Fatal("Parse returned a recipe and an error")
			}
			for _, e := range err.(tomlpos.Errors) {
				if e.File != "fuzz/hello.toml" || e.Line < 1 || e.Col < 1 {
					t.Fatalf("error without a position: %q", e)
				}
			}
			return
		}
		c := r.Canonical()
		if !bytes.Equal(c, r.Canonical()) {
			t.Fatal("Canonical is not deterministic")
		}
	})
}
