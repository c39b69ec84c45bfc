package builder

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/builder/sandbox"
	"github.com/un-distro/undistro/builder/source"
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
	homeFile := "/home" // exists on every Debian system, maybe empty
	if ents, _ := os.ReadDir("/home"); len(ents) > 0 {
		homeFile = filepath.Join("/home", ents[0].Name())
	}
	rootFile := "/root/.profile"
	if _, err := os.Stat(rootFile); err != nil {
		rootFile = "/root"
	}
	tests := []struct{ name, path string }{
		{"shadow", "/etc/shadow"},
		{"root home", rootFile},
		{"home", homeFile},
		{"outside the repository", filepath.Join(other, "go.mod")},
		{"signing key", key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.path); err != nil {
				t.Fatalf("%s does not exist on this host, so the test would prove nothing: %v", tc.path, err)
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
		{"whiteout name", `mkdir -p "$DESTDIR/etc"
touch "$DESTDIR/etc/.wh.passwd"`, `/etc/.wh.passwd: refusing layer entry "etc/.wh.passwd": ".wh.passwd" is an OCI whiteout, which would delete etc/passwd from the layers below: a package may only add files, rename it (rule "whiteout")`},
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

// TestSigningKeyInSourceRefused: a key a path source would copy into a
// build is refused before anything is built; the same key git-ignored is
// not part of the source and is fine.
func TestSigningKeyInSourceRefused(t *testing.T) {
	needBwrap(t)
	repo := sealedRepo(t, `mkdir -p "$DESTDIR/usr/share/x"; cp README "$DESTDIR/usr/share/x/"`)
	key := filepath.Join(repo, "src", "x", "cosign.key")
	writeFile(t, key, "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
	pass := func() ([]byte, error) { return []byte("x"), nil }
	_, err := Build(context.Background(), []string{"r"}, WithRepo(repo), WithCache(t.TempDir()), WithOutput(t.TempDir()), WithSigning(key, pass))
	if err == nil || !strings.Contains(err.Error(), "signing key "+key+" is part of the source of x") {
		t.Fatalf("err = %v, want the key refused", err)
	}
	git := exec.Command("sh", "-c", "git init -q && echo '*.key' > .gitignore && git add -A && git -c user.name=t -c user.email=t@t commit -qm x")
	git.Dir = repo
	if out, err := git.CombinedOutput(); err != nil {
		t.Fatalf("git: %v\n%s", err, out)
	}
	in, err := (&source.PathFetcher{RepoRoot: repo}).Includes(context.Background(), recipe.Source{Path: "src/x"}, key)
	if err != nil || in {
		t.Fatalf("git-ignored key: Includes = %v, %v; want false", in, err)
	}
}

// recordingSandbox runs builds in another sandbox and records their specs.
type recordingSandbox struct {
	inner sandbox.Sandbox
	specs []sandbox.Spec
}

var _ sandbox.Sandbox = (*recordingSandbox)(nil)

func (r *recordingSandbox) Run(ctx context.Context, s sandbox.Spec) error {
	r.specs = append(r.specs, s)
	return r.inner.Run(ctx, s)
}

// TestBuildUsesGivenSandbox: the builder runs every build in the sandbox it
// is given, declaring the recipe's host tools to it.
func TestBuildUsesGivenSandbox(t *testing.T) {
	needBwrap(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	repo := sealedRepo(t, `mkdir -p "$DESTDIR/usr/share/x"; cp README "$DESTDIR/usr/share/x/"`)
	writeFile(t, filepath.Join(repo, "recipes/x.toml"), strings.Replace(mustRead(t, filepath.Join(repo, "recipes/x.toml")), "[build]", "[dependencies]\nbuild = [\"host:make\"]\n[build]", 1))
	rec := &recordingSandbox{inner: &sandbox.Bwrap{}}
	if _, err := Build(context.Background(), []string{"r"}, WithRepo(repo), WithCache(t.TempDir()), WithOutput(t.TempDir()), WithSandbox(rec)); err != nil {
		t.Fatal(err)
	}
	if len(rec.specs) != 1 || strings.Join(rec.specs[0].Tools, ",") != "make" {
		t.Fatalf("sandbox saw %d builds (%+v), want one declaring host tool make", len(rec.specs), rec.specs)
	}
	if _, err := Build(context.Background(), []string{"r"}, WithRepo(repo), WithOutput(t.TempDir()), WithSandbox(nil)); err == nil || !strings.Contains(err.Error(), "sandbox must not be nil") {
		t.Errorf("WithSandbox(nil): err = %v", err)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
