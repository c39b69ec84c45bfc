package builder

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// fixture writes a small repository: a is a library-ish package, b runs on
// a, c builds with a, and the role "app" holds b and c.
func fixture(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"recipes/a.toml": `name = "a"
version = "1.0"
license = "MIT"
[source]
path = "src/a"
[build]
script = """
mkdir -p $DESTDIR/usr/share/a
cp data.txt $DESTDIR/usr/share/a/
"""
`,
		"recipes/b.toml": `name = "b"
version = "2.0"
license = "MIT"
[source]
path = "src/b"
[dependencies]
run = ["a"]
[options.greeting]
default = "hello"
description = "what b says"
[build]
script = """
mkdir -p $DESTDIR/usr/bin
printf '#!/bin/sh\necho %s\n' "$UNDISTRO_OPT_GREETING" > $DESTDIR/usr/bin/b
chmod 755 $DESTDIR/usr/bin/b
"""
[[service]]
name = "b"
exec = ["/usr/bin/b"]
restart = "on-failure"
`,
		"recipes/c.toml": `name = "c"
version = "3.0"
license = "MIT"
[source]
path = "src/c"
[dependencies]
build = ["a"]
[build]
script = """
mkdir -p $DESTDIR/usr/share/c
cat /deps/a/usr/share/a/data.txt main.txt > $DESTDIR/usr/share/c/out.txt
"""
`,
		"images/app.toml": `packages = ["b", "c"]
[options]
"b.greeting" = "bonjour"
[[file]]
path = "/etc/app.conf"
source = "app.conf"
mode = "0644"
[[user]]
name = "b"
uid = 1001
gid = 1001
[[group]]
name = "b"
gid = 1001
[service.b]
files = ["/etc/app.conf"]
`,
		"images/app/app.conf": "key = value\n",
		"src/a/data.txt":      "a-data\n",
		"src/b/README":        "b\n",
		"src/c/main.txt":      "c-main\n",
	}
	testsupport.WriteFiles(t, dir, files)
}

func needBwrap(t *testing.T) {
	t.Helper()
	testsupport.RequireTool(t, "bwrap", "apt-get install bubblewrap")
}

func build(t *testing.T, repo, cache string) []Result {
	t.Helper()
	res, err := Build(context.Background(), []string{"app"}, WithRepo(repo), WithCache(cache),
		WithOutput(filepath.Join(t.TempDir(), "oci")), WithJobs(1))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(res) != 1 || res[0].Role != "app" {
		t.Fatalf("results: %+v", res)
	}
	return res
}

func TestRebuildsOnlyWhatChanged(t *testing.T) {
	needBwrap(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	repo, cache := t.TempDir(), t.TempDir()
	fixture(t, repo)

	first := build(t, repo, cache)[0]
	if got := sorted(first.Built); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("first build built %v, want [a b c]", got)
	}
	again := build(t, repo, cache)[0]
	if len(again.Built) != 0 {
		t.Fatalf("no-op rebuild built %v, want nothing", again.Built)
	}
	if again.Digest != first.Digest {
		t.Fatalf("no-op rebuild changed digest %s -> %s", first.Digest, again.Digest)
	}

	// Changing a rebuilds a and its reverse dependencies b (run) and c (build).
	writeFile(t, filepath.Join(repo, "src/a/data.txt"), "a-data v2\n")
	if got := sorted(build(t, repo, cache)[0].Built); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after changing a: built %v, want [a b c]", got)
	}
	// Changing c's recipe rebuilds c only.
	bump(t, filepath.Join(repo, "recipes/c.toml"))
	if got := sorted(build(t, repo, cache)[0].Built); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("after changing c: built %v, want [c]", got)
	}
}

func TestDeterministicAcrossDirsAndCaches(t *testing.T) {
	needBwrap(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	var digests []string
	for i := 0; i < 2; i++ {
		repo := t.TempDir()
		fixture(t, repo)
		digests = append(digests, build(t, repo, t.TempDir())[0].Digest)
	}
	if digests[0] != digests[1] {
		t.Fatalf("two clean builds in different directories differ: %s vs %s", digests[0], digests[1])
	}
}

func TestOptionOverrideReachesBuild(t *testing.T) {
	needBwrap(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	repo, cache := t.TempDir(), t.TempDir()
	fixture(t, repo)
	out := filepath.Join(t.TempDir(), "oci")
	rootfs := t.TempDir()
	if _, err := Build(context.Background(), []string{"app"}, WithRepo(repo), WithCache(cache), WithOutput(out), WithRootfs(rootfs)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(rootfs, "app", "usr/bin/b"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "bonjour") {
		t.Fatalf("role override b.greeting=bonjour not applied: %q", b)
	}
	if c, err := os.ReadFile(filepath.Join(rootfs, "app", "usr/share/c/out.txt")); err != nil || string(c) != "a-data\nc-main\n" {
		t.Fatalf("c did not build against a: %q %v", c, err)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "app", "etc/app.conf")); err != nil {
		t.Fatalf("role file missing: %v", err)
	}
}

func TestFailingBuildShowsLog(t *testing.T) {
	needBwrap(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	repo := t.TempDir()
	fixture(t, repo)
	writeFile(t, filepath.Join(repo, "recipes/a.toml"), `name = "a"
version = "1.0"
[source]
path = "src/a"
[build]
script = """
echo compiling the thing
echo "error: the thing is broken" >&2
exit 3
"""
`)
	_, err := Build(context.Background(), []string{"app"}, WithRepo(repo), WithCache(t.TempDir()), WithOutput(t.TempDir()))
	if err == nil {
		t.Fatal("failing build succeeded")
	}
	for _, want := range []string{"building a", "error: the thing is broken", "a.log"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func bump(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, strings.Replace(string(b), "license = \"MIT\"", "license = \"MIT\"\nrevision = 2", 1))
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
