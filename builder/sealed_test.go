package builder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/archive"
)

// sealedRepo writes a repository with one package "x" built by script and
// a role "r" holding it.
func sealedRepo(t *testing.T, script string) string {
	t.Helper()
	repo := t.TempDir()
	for p, body := range map[string]string{
		"recipes/x.toml": "name = \"x\"\nversion = \"1.0\"\nlicense = \"MIT\"\n[source]\npath = \"src/x\"\n[build]\nscript = '''\n" + script + "\n'''\n",
		"images/r.toml":  "packages = [\"x\"]\n",
		"src/x/README":   "x\n",
	} {
		full := filepath.Join(repo, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, full, body)
	}
	return repo
}

func buildSealed(t *testing.T, repo string) error {
	t.Helper()
	_, err := Build(context.Background(), []string{"r"}, WithRepo(repo), WithCache(t.TempDir()), WithOutput(filepath.Join(t.TempDir(), "oci")), WithJobs(1))
	return err
}

// TestBuildStepsAreSealed: a recipe's build step cannot read the host's
// secrets, homes, other checkouts or signing keys, and is not root.
func TestBuildStepsAreSealed(t *testing.T) {
	needBwrap(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	other := t.TempDir() // another checkout, outside the repository
	writeFile(t, filepath.Join(other, "go.mod"), "module other\n")
	keyDir, err := os.MkdirTemp("/var/tmp", "undistro-key-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(keyDir) })
	key := filepath.Join(keyDir, "cosign.key")
	if err := os.WriteFile(key, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	homeFile := ""
	if ents, _ := os.ReadDir("/home"); len(ents) > 0 {
		homeFile = filepath.Join("/home", ents[0].Name())
	}
	tests := []struct{ name, path string }{
		{"shadow", "/etc/shadow"},
		{"root home", "/root/.profile"},
		{"home", homeFile},
		{"outside the repository", filepath.Join(other, "go.mod")},
		{"signing key", key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == "" {
				t.Skip("no directory under /home on this host")
			}
			if _, err := os.Stat(tc.path); err != nil {
				t.Skipf("%s does not exist on this host", tc.path)
			}
			repo := sealedRepo(t, `mkdir -p "$DESTDIR/usr/share/x"
cat '`+tc.path+`' > "$DESTDIR/usr/share/x/stolen"`)
			err := buildSealed(t, repo)
			if err == nil {
				t.Fatalf("a build step read %s", tc.path)
			}
			if !strings.Contains(err.Error(), tc.path+": No such file or directory") {
				t.Errorf("err = %v, want it to say %s does not exist", err, tc.path)
			}
		})
	}
	t.Run("not root", func(t *testing.T) {
		repo := sealedRepo(t, `test "$(id -u)" = 1000 || { echo "uid $(id -u)" >&2; exit 1; }
mkdir -p "$DESTDIR/usr/share/x"
id -u > "$DESTDIR/usr/share/x/uid"`)
		if err := buildSealed(t, repo); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBuildRefusesTreeTheNodeRefuses: a package whose tree the node would
// refuse fails its build, naming the file and the rule.
func TestBuildRefusesTreeTheNodeRefuses(t *testing.T) {
	needBwrap(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	tests := []struct{ name, script, want string }{
		{"relative escape", `mkdir -p "$DESTDIR/usr/lib"
ln -s ../../../etc/shadow "$DESTDIR/usr/lib/x"`, `/usr/lib/x: refusing layer entry "usr/lib/x": symlink target "../../../etc/shadow" escapes the root (rule "symlink")`},
		{"absolute escape", `mkdir -p "$DESTDIR/etc"
ln -s /../../../etc/passwd "$DESTDIR/etc/passwd"`, `/etc/passwd: refusing layer entry "etc/passwd": symlink target "/../../../etc/passwd" escapes the root (rule "symlink")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := buildSealed(t, sealedRepo(t, tc.script))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant it to contain %s", err, tc.want)
			}
			if !strings.Contains(err.Error(), "x.toml") {
				t.Errorf("err = %v, want it to name the recipe", err)
			}
			if !errors.Is(err, archive.ErrRefused) {
				t.Errorf("errors.Is(err, archive.ErrRefused) = false")
			}
		})
	}
}
