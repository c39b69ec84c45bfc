package fsutil

import (
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
		{name: "new file", mode: 0o644, fill: write("hello"), want: "hello", wantMode: 0o644},
		{name: "private mode", mode: 0o600, fill: write("secret"), want: "secret", wantMode: 0o600},
		{name: "executable mode", mode: 0o755, fill: write("#!/bin/sh\n"), want: "#!/bin/sh\n", wantMode: 0o755},
		{name: "replaces old content and mode", old: "old", mode: 0o444, fill: write("new"), want: "new", wantMode: 0o444},
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
		{name: "target is a directory", dir: true, mode: 0o644, fill: write("x"), wantErr: "file exists"},
		{name: "missing directory", missing: true, mode: 0o644, fill: write("x"), wantErr: "no such file or directory"},
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
		sync    func(string) error
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

func write(s string) func(io.Writer) error {
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
