package citest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// Files is the fixture, by repository-relative path:
//
//   - a: a library (src/a); b runs on a; c builds with a; d is a leaf
//     whose docs/ are excluded from its source.
//   - role app holds b and c and has a config file (images/app/app.conf);
//     role tools holds d (config images/tools/tools.conf); role edge
//     inherits tools and adds nothing but a file.
var Files = map[string]string{
	"README.md": "a test distro\n",
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
[build]
script = """
mkdir -p $DESTDIR/usr/share/b
cp README $DESTDIR/usr/share/b/
"""
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
	"recipes/d.toml": `name = "d"
version = "4.0"
license = "MIT"
[source]
path = "src/d"
exclude = ["src/d/docs"]
[build]
script = """
mkdir -p $DESTDIR/usr/share/d
cp d.txt $DESTDIR/usr/share/d/
"""
`,
	"images/README.md": "roles\n",
	"images/app.toml": `packages = ["b", "c"]
[[file]]
path = "/etc/app.conf"
source = "app.conf"
mode = "0644"
`,
	"images/app/app.conf": "key = value\n",
	"images/tools.toml": `packages = ["d"]
[[file]]
path = "/etc/tools.conf"
source = "tools.conf"
mode = "0644"
`,
	"images/tools/tools.conf": "tools = 1\n",
	"images/edge.toml": `inherit = ["tools"]
[[file]]
path = "/etc/edge.conf"
source = "edge.conf"
mode = "0644"
`,
	"images/edge/edge.conf":   "edge = 1\n",
	"src/a/data.txt":          "a-data\n",
	"src/b/README":            "b\n",
	"src/c/main.txt":          "c-main\n",
	"src/d/d.txt":             "d\n",
	"src/d/docs/notes.md":     "not part of d\n",
	".github/workflows/x.yml": "name: x\n",
}

// Repo writes Files into a new git repository, commits them and returns
// the repository's directory. The fixture's commit (HEAD) follows an empty
// first commit (HEAD~1), so a plan of HEAD~1..HEAD holds every role.
func Repo(t testing.TB) string {
	t.Helper()
	testsupport.RequireTool(t, "git", "apt-get install git")
	dir := t.TempDir()
	Git(t, dir, "init", "-q", "-b", "main")
	Commit(t, dir, "empty")
	Write(t, dir, Files)
	Commit(t, dir, "fixture")
	return dir
}

// Write writes files (path → content) under dir.
func Write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	testsupport.WriteFiles(t, dir, files)
}

// Commit commits every change in dir and returns the new commit id.
func Commit(t testing.TB, dir, msg string) string {
	t.Helper()
	Git(t, dir, "add", "-A")
	Git(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return Git(t, dir, "rev-parse", "HEAD")
}

// Git runs git in dir with a fixed identity and returns its trimmed
// output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
