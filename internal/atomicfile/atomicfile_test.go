package atomicfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFrom(t *testing.T) {
	errFill := errors.New("fill failed")
	cases := []struct {
		name     string
		old      string // existing content of the target; "" means none
		dir      bool   // the target is a non-empty directory
		missing  bool   // the target's directory does not exist
		mode     fs.FileMode
		fill     func(io.Writer) error
		want     string // content after the call
		wantMode fs.FileMode
		wantErr  string
		wrapsErr error // the error the returned one must wrap, if any
	}{
		{name: "new file", mode: 0o644, fill: fillWith("hello"), want: "hello", wantMode: 0o644},
		{name: "private mode", mode: 0o600, fill: fillWith("secret"), want: "secret", wantMode: 0o600},
		{name: "executable mode", mode: 0o755, fill: fillWith("#!/bin/sh\n"), want: "#!/bin/sh\n", wantMode: 0o755},
		{name: "replaces old content and mode", old: "old", mode: 0o444, fill: fillWith("new"), want: "new", wantMode: 0o444},
		{name: "failing fill keeps the old file", old: "old", mode: 0o644,
			fill: func(w io.Writer) error {
				if _, err := w.Write([]byte("half")); err != nil {
					return err
				}
				return errFill
			},
			want: "old", wantMode: 0o640, wantErr: "fill failed", wrapsErr: errFill},
		{name: "failing fill creates nothing", mode: 0o644,
			fill: func(io.Writer) error { return errFill }, wantErr: "fill failed", wrapsErr: errFill},
		{name: "target is a directory", dir: true, mode: 0o644, fill: fillWith("x"), wantErr: "file exists"},
		{name: "missing directory", missing: true, mode: 0o644, fill: fillWith("x"), wantErr: "no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			if tc.missing {
				p = filepath.Join(dir, "nope", "f")
			}
			if tc.old != "" {
				if err := os.WriteFile(p, []byte(tc.old), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			if tc.dir {
				if err := os.MkdirAll(filepath.Join(p, "child"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			err := WriteFrom(p, tc.mode, tc.fill)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("WriteFrom: %v", err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "writing "+p+": ") {
					t.Errorf("err = %v, want it to name %s", err, p)
				}
				if tc.wrapsErr != nil && !errors.Is(err, tc.wrapsErr) {
					t.Errorf("err = %v does not wrap %v", err, tc.wrapsErr)
				}
			}
			if !tc.missing {
				assertNoTemp(t, dir)
			}
			if tc.dir || tc.missing {
				return
			}
			got, rerr := os.ReadFile(p)
			if tc.want == "" {
				if !errors.Is(rerr, fs.ErrNotExist) {
					t.Fatalf("target exists after a failed write: %q, %v", got, rerr)
				}
				return
			}
			if rerr != nil || string(got) != tc.want {
				t.Fatalf("content = %q, %v, want %q", got, rerr, tc.want)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.wantMode {
				t.Errorf("mode = %v, want %v", fi.Mode().Perm(), tc.wantMode)
			}
		})
	}
}

// TestWriteFileIgnoresUmask: the mode is applied exactly, whatever the
// process umask, so builds do not depend on the caller's shell.
func TestWriteFileIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "f")
	if err := WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v under umask 077, want 0644", fi.Mode().Perm())
	}
}

func TestSync(t *testing.T) {
	dir := t.TempDir()
	gone := filepath.Join(dir, "gone")
	cases := []struct {
		name    string
		sync    func(string, ...Option) error
		path    string
		wantErr string
	}{
		{name: "dir", sync: SyncDir, path: dir},
		{name: "fs", sync: SyncFS, path: dir},
		{name: "dir missing", sync: SyncDir, path: gone, wantErr: "syncing " + gone + ": open " + gone + ": no such file or directory"},
		{name: "fs missing", sync: SyncFS, path: gone, wantErr: "syncing " + gone + ": open " + gone + ": no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sync(tc.path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func fillWith(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
}

func TestCreateNew(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	if err := CreateNew(p, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := CreateNew(p, []byte("second"), 0o600)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second CreateNew: %v, want fs.ErrExist", err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "first" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after a refused CreateNew: %q %v, want \"first\" 0600", b, fi.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
}

// TestSyncDirToleratesEINVAL: procfs cannot fsync a directory (EINVAL,
// wrapped in an *os.PathError, which os.ErrInvalid never matches); that is
// accepted, while a real error (a missing directory) is not.
func TestSyncDirToleratesEINVAL(t *testing.T) {
	d, err := os.Open("/proc")
	if err != nil {
		t.Fatal(err)
	}
	serr := d.Sync()
	d.Close()
	if !errors.Is(serr, syscall.EINVAL) {
		t.Fatalf("fsync of /proc: %v, want EINVAL (the premise of this test)", serr)
	}
	if errors.Is(serr, os.ErrInvalid) {
		t.Fatal("EINVAL matches os.ErrInvalid: the old check would have worked")
	}
	if err := SyncDir("/proc"); err != nil {
		t.Fatalf("SyncDir(/proc) = %v, want nil", err)
	}
}

func TestWriteBlob(t *testing.T) {
	content := "layer bytes"
	sum := sha256.Sum256([]byte(content))
	good := hex.EncodeToString(sum[:])
	cases := []struct {
		name     string
		existing string // content already at the path
		want     string // the hex digest asked for
		r        io.Reader
		size     int64 // 0 means -1 (unknown)
		wantErr  string
		wrapsErr error
		after    string // content at the path afterwards; "" means absent
	}{
		{name: "verified", want: good, r: strings.NewReader(content), after: content},
		{name: "wrong content", want: strings.Repeat("0", 64), r: strings.NewReader(content),
			wantErr: "content hashes to sha256:" + good + ", want sha256:" + strings.Repeat("0", 64), wrapsErr: ErrDigestMismatch},
		{name: "failing reader", want: good, r: io.MultiReader(strings.NewReader("layer"), iotestErr{}),
			wantErr: "read failed"},
		{name: "short digest", want: "abc", r: strings.NewReader(content), wantErr: `"abc" is not a sha256 hex digest`},
		{name: "upper-case digest", want: strings.ToUpper(good), r: strings.NewReader(content), wantErr: "is not a sha256 hex digest"},
		{name: "non-hex digest", want: strings.Repeat("z", 64), r: strings.NewReader(content), wantErr: "is not a sha256 hex digest"},
		{name: "already there is not read again", existing: content, want: good, r: iotestErr{}, after: content},
		{name: "right size", want: good, size: int64(len(content)), r: strings.NewReader(content), after: content},
		{name: "too long", want: good, size: 5, r: strings.NewReader(content),
			wantErr: "content is longer than 5 bytes", wrapsErr: ErrDigestMismatch},
		{name: "too short", want: good, size: 100, r: strings.NewReader(content),
			wantErr: "content is 11 bytes, want 100", wrapsErr: ErrDigestMismatch},
		{name: "existing of the wrong size is replaced", existing: "trunc", want: good, size: int64(len(content)),
			r: strings.NewReader(content), after: content},
		{name: "existing of the wrong size stays when the new one is wrong too", existing: "trunc", want: good, size: int64(len(content)),
			r: strings.NewReader("other bytes"), wantErr: "content hashes to", wrapsErr: ErrDigestMismatch, after: "trunc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "blob")
			if tc.existing != "" {
				if err := os.WriteFile(p, []byte(tc.existing), 0o444); err != nil {
					t.Fatal(err)
				}
			}
			size := tc.size
			if size == 0 {
				size = -1
			}
			err := WriteBlob(p, tc.r, tc.want, size, 0o444)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("WriteBlob: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.wrapsErr != nil && !errors.Is(err, tc.wrapsErr) {
				t.Errorf("err = %v does not wrap %v", err, tc.wrapsErr)
			}
			assertNoTemp(t, dir)
			got, rerr := os.ReadFile(p)
			if tc.after == "" {
				if !errors.Is(rerr, fs.ErrNotExist) {
					t.Fatalf("blob present after a refused write: %q %v", got, rerr)
				}
				return
			}
			if string(got) != tc.after {
				t.Fatalf("blob = %q, %v, want %q", got, rerr, tc.after)
			}
			if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o444 {
				t.Errorf("blob mode = %v, want 0444", fi.Mode().Perm())
			}
		})
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("read failed") }

func TestSymlink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "current")
	for _, target := range []string{"roots/a", "roots/b"} {
		if err := Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if got, err := os.Readlink(link); err != nil || got != target {
			t.Fatalf("link = %q, %v, want %q", got, err, target)
		}
	}
	assertNoTemp(t, dir)
	// A directory in the way is not replaced.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Symlink("roots/a", filepath.Join(dir, "d")); err == nil {
		t.Fatal("Symlink replaced a non-empty directory")
	}
	assertNoTemp(t, dir)
}

func TestTempName(t *testing.T) {
	a, b := TempName("/d", "/d/state.json"), TempName("/d", "/d/state.json")
	if a == b {
		t.Fatalf("two temp names are equal: %s", a)
	}
	if filepath.Dir(a) != "/d" || !IsTemp(filepath.Base(a)) || !strings.Contains(a, "state.json") {
		t.Fatalf("temp name %s: want a temp name in /d naming state.json", a)
	}
	if IsTemp("state.json") {
		t.Fatal("IsTemp(state.json)")
	}
}

func TestPublishDir(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "tree")
	tmp := TempName(dir, final)
	if err := os.MkdirAll(filepath.Join(tmp, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "usr/bin/x"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := PublishDir(tmp, final); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(final, "usr/bin/x")); err != nil || string(b) != "x" {
		t.Fatalf("published tree: %q %v", b, err)
	}
	assertNoTemp(t, dir)

	// A second tree does not replace the first.
	tmp2 := TempName(dir, final)
	if err := os.MkdirAll(filepath.Join(tmp2, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := PublishDir(tmp2, final)
	if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("publishing over a tree: %v, want ENOTEMPTY or EEXIST", err)
	}
	if !strings.HasPrefix(err.Error(), "publishing "+final+": ") {
		t.Errorf("error %q does not name %s", err, final)
	}
	if _, err := os.Stat(filepath.Join(tmp2, "etc")); err != nil {
		t.Errorf("the refused tree is gone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(final, "usr/bin/x")); err != nil {
		t.Errorf("the first tree is damaged: %v", err)
	}
	if err := PublishDir(filepath.Join(dir, "missing"), filepath.Join(dir, "other")); err == nil {
		t.Error("publishing a missing tree succeeded")
	}
}
