package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// TestRunSeesOnlyItsInputs: a build step cannot read the host's secrets,
// homes, other checkouts or keys, and does not run as root.
func TestRunSeesOnlyItsInputs(t *testing.T) {
	bw := requireBwrap(t)
	other := t.TempDir() // another checkout, under /tmp
	if err := os.WriteFile(filepath.Join(other, "secret.txt"), []byte("s3cret"), 0o644); err != nil {
		t.Fatal(err)
	}
	keyDir := outsideDir(t) // a signing key, outside /tmp
	key := filepath.Join(keyDir, "cosign.key")
	if err := os.WriteFile(key, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := "/home"
	if ents, _ := os.ReadDir("/home"); len(ents) > 0 {
		home = filepath.Join("/home", ents[0].Name())
	}
	tests := []struct {
		name, path string
	}{
		{"shadow", "/etc/shadow"},
		{"root home", "/root"},
		{"home", home},
		{"other checkout", filepath.Join(other, "secret.txt")},
		{"signing key", key},
		{"host etc", "/etc/os-release"},
		{"var", "/var"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.path); err != nil {
				t.Fatalf("%s does not exist on this host, so the test would prove nothing: %v", tc.path, err)
			}
			s := newSpec(t, strings.ReplaceAll(`p='PATH_'; if [ -d "$p" ]; then ls -A "$p"; else cat "$p"; fi`, "PATH_", tc.path))
			err := bw.Run(context.Background(), s)
			var be *BuildError
			if !errors.As(err, &be) {
				t.Fatalf("reading %s: err = %v, want a failed build", tc.path, err)
			}
			if tail := strings.Join(be.Tail, "\n"); !strings.Contains(tail, "No such file or directory") {
				t.Errorf("reading %s: tail = %q, want No such file or directory", tc.path, tail)
			}
		})
	}

	t.Run("unprivileged uid", func(t *testing.T) {
		s := newSpec(t, `id -u > "$DESTDIR/uid"; id -g > "$DESTDIR/gid"; id -un > "$DESTDIR/user"`)
		if err := bw.Run(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		for f, want := range map[string]string{"uid": "1000\n", "gid": "1000\n", "user": "builder\n"} {
			if b, _ := os.ReadFile(filepath.Join(s.DestDir(), f)); string(b) != want {
				t.Errorf("%s inside = %q, want %q", f, b, want)
			}
		}
	})
}

// TestRunHostTools: a toolchain is visible only when declared.
func TestRunHostTools(t *testing.T) {
	bw := requireBwrap(t)
	goBin := testsupport.RequireTool(t, "go", "install Go (go.mod's version)")
	testsupport.RequireTool(t, "gcc", "apt-get install gcc")
	gccScript := `printf 'int main(void){return 0;}\n' > t.c && gcc -c t.c -o "$TMPDIR/t.o"`
	tests := []struct {
		name    string
		tools   []string
		script  string
		wantErr string // "" means the build succeeds
	}{
		{"go declared", []string{"go"}, goBin + ` version`, ""},
		{"gcc declared", []string{"gcc"}, gccScript, ""},
		{"gcc undeclared", nil, gccScript, "cc1"},
		{"cc through /etc/alternatives", []string{"cc"}, `printf 'int main(void){return 0;}\n' > t.c && cc -c t.c -o "$TMPDIR/t.o"`, ""},
	}
	if strings.HasPrefix(goBin, "/usr/local/") {
		tests = append(tests, struct {
			name    string
			tools   []string
			script  string
			wantErr string
		}{"go undeclared", nil, goBin + ` version`, "not found"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSpec(t, tc.script)
			s.Tools = tc.tools
			err := bw.Run(context.Background(), s)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var be *BuildError
			if !errors.As(err, &be) || !strings.Contains(strings.Join(be.Tail, "\n"), tc.wantErr) {
				t.Fatalf("err = %v, want a failed build mentioning %q", err, tc.wantErr)
			}
		})
	}
	if _, err := (&Tools{}).Paths(context.Background(), "no-such-tool-xyz"); err == nil || !strings.Contains(err.Error(), `host tool "no-such-tool-xyz" is not installed`) {
		t.Errorf("missing tool: err = %v", err)
	}
}
