package unpack

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/un-distro/undistro/internal/archive"
)

const victim = "do not touch\n"

// sandbox returns dst inside a parent directory that also holds a sentinel
// file; checkOutside fails if anything but dst changed in the parent.
func sandbox(t testing.TB) (parent, dst string) {
	t.Helper()
	parent = t.TempDir()
	if err := os.MkdirAll(filepath.Join(parent, "sentinel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "sentinel", "victim"), []byte(victim), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // let TempDir's cleanup remove read-only directories when not root
		_ = filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return parent, filepath.Join(parent, "dst")
}

func checkOutside(t testing.TB, parent string) {
	t.Helper()
	err := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(parent, p)
		switch rel {
		case ".", "sentinel", "sentinel/victim":
			return nil
		case "dst":
			return filepath.SkipDir
		}
		t.Errorf("written outside dst: %s", rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(parent, "sentinel", "victim")); err != nil || string(b) != victim {
		t.Errorf("sentinel changed: %q, %v", b, err)
	}
	// Every symlink left in dst must stay inside it.
	_ = filepath.WalkDir(filepath.Join(parent, "dst"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, _ := os.Readlink(p)
		rel, _ := filepath.Rel(filepath.Join(parent, "dst"), filepath.Dir(p))
		if archive.Escapes(filepath.ToSlash(rel), target) {
			t.Errorf("escaping symlink left in dst: %s -> %s", p, target)
		}
		return nil
	})
}

func TestUnpackHostile(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(corpusPath(tc.name))
			if err != nil {
				t.Fatal(err)
			}
			parent, dst := sandbox(t)
			_, err = Unpack(context.Background(), bytes.NewReader(b), dst, tc.opts)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error = %v\nwant    %s", err, tc.wantErr)
			}
			if strings.HasPrefix(tc.wantErr, "refusing") && !errors.Is(err, archive.ErrRefused) {
				t.Errorf("errors.Is(%v, ErrRefused) = false", err)
			}
			checkOutside(t, parent)
		})
	}
}

func TestUnpackGood(t *testing.T) {
	layer := makeTar(t,
		dir("etc/"),
		withMode(file("etc/motd", "hello\n"), 0o640),
		dir("./usr/"), dir("usr/bin/"),
		withMode(file("usr/bin/busybox", "#!bb"), 0o755),
		symlink("usr/bin/sh", "busybox"),
		symlink("bin", "/usr/bin"),         // absolute: inside the root
		symlink("usr/bin/up", "../../etc"), // climbs to the root, no further
		hardlink("usr/bin/ash", "usr/bin/busybox"),
		withMode(dir("ro/"), 0o555),
		file("ro/inside", "written before ro/ became read-only"),
		file("implicit/parent/f", "parents created"),
		withMode(dir("etc/"), 0o750), // a repeated directory updates its mode
		file("etc/.wh.old.conf", ""),
		file("var/cache/.wh..wh..opq", ""),
		file(".wh.gone", ""),
		withMode(dir("var/mail/"), 0o2775), // setgid directories grant nothing: allowed
	)
	parent, dst := sandbox(t)
	st, err := Unpack(context.Background(), bytes.NewReader(layer), dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkOutside(t, parent)
	want := Stats{Entries: 17, Files: 4, Dirs: 8, Symlinks: 3, Hardlinks: 1, Bytes: 6 + 4 + 35 + 15,
		Whiteouts: []string{"etc/old.conf", "gone"}, Opaque: []string{"var/cache"}}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
	for _, c := range []struct {
		path string
		mode fs.FileMode
		body string
		link string
	}{
		{path: "etc", mode: fs.ModeDir | 0o750},
		{path: "etc/motd", mode: 0o640, body: "hello\n"},
		{path: "usr/bin/busybox", mode: 0o755, body: "#!bb"},
		{path: "usr/bin/ash", mode: 0o755, body: "#!bb"},
		{path: "usr/bin/sh", mode: fs.ModeSymlink | 0o777, link: "busybox"},
		{path: "bin", mode: fs.ModeSymlink | 0o777, link: "/usr/bin"},
		{path: "ro", mode: fs.ModeDir | 0o555},
		{path: "implicit/parent", mode: fs.ModeDir | 0o755},
		{path: "var/mail", mode: fs.ModeDir | fs.ModeSetgid | 0o775},
	} {
		p := filepath.Join(dst, c.path)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
		if c.body != "" {
			if b, _ := os.ReadFile(p); string(b) != c.body {
				t.Errorf("%s: content %q, want %q", c.path, b, c.body)
			}
		}
		if c.link != "" {
			if l, _ := os.Readlink(p); l != c.link {
				t.Errorf("%s: link %q, want %q", c.path, l, c.link)
			}
		}
		if !fi.ModTime().Equal(epoch) && fi.Mode()&fs.ModeSymlink == 0 && c.path != "implicit/parent" {
			t.Errorf("%s: mtime %v, want %v", c.path, fi.ModTime(), epoch)
		}
	}
	a, _ := os.Stat(filepath.Join(dst, "usr/bin/ash"))
	b, _ := os.Stat(filepath.Join(dst, "usr/bin/busybox"))
	if !os.SameFile(a, b) {
		t.Error("usr/bin/ash is not a hardlink of usr/bin/busybox")
	}
	for _, p := range []string{"etc/.wh.old.conf", "var/cache/.wh..wh..opq", ".wh.gone"} {
		if _, err := os.Lstat(filepath.Join(dst, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("whiteout %s written to dst: %v", p, err)
		}
	}
}

func TestUnpackPrivileged(t *testing.T) {
	ents := []ent{
		withMode(file("usr/bin/su", "su"), 0o4755),
		hardlink("usr/bin/su2", "usr/bin/su"),
		special("run/ctl", tar.TypeFifo),
	}
	want := []string{"/run/ctl", "/usr/bin/su", "/usr/bin/su2"}
	if os.Geteuid() == 0 { // mknod needs CAP_MKNOD
		ents = append(ents, special("dev/null", tar.TypeChar))
		want = append([]string{"/dev/null"}, want...)
	}
	parent, dst := sandbox(t)
	st, err := Unpack(context.Background(), bytes.NewReader(makeTar(t, ents...)), dst,
		Options{Privileged: []string{"usr/bin/su", "/usr/bin/su2", "/run/ctl", "/dev/null"}})
	if err != nil {
		t.Fatal(err)
	}
	checkOutside(t, parent)
	if !reflect.DeepEqual(st.Privileged, want) {
		t.Errorf("privileged = %q, want %q", st.Privileged, want)
	}
	fi, err := os.Stat(filepath.Join(dst, "usr/bin/su"))
	if err != nil || fi.Mode() != fs.ModeSetuid|0o755 {
		t.Errorf("usr/bin/su: %v %v, want setuid 0755", fi.Mode(), err)
	}
	if fi, err := os.Lstat(filepath.Join(dst, "run/ctl")); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("run/ctl: %v, want a fifo", err)
	}
	if os.Geteuid() == 0 {
		var s syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dst, "dev/null"), &s); err != nil || s.Mode&syscall.S_IFMT != syscall.S_IFCHR || s.Rdev != 0x103 {
			t.Errorf("dev/null: mode %o rdev %x %v, want char device 1,3", s.Mode, s.Rdev, err)
		}
	}
}

func TestUnpackRefusesExistingTarget(t *testing.T) {
	parent, dst := sandbox(t)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlink planted in dst before the unpack must neither be followed
	// nor be written through.
	if err := os.Symlink(filepath.Join(parent, "sentinel"), filepath.Join(dst, "planted")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ents    []ent
		wantErr string
	}{
		{name: "write through", ents: []ent{file("planted/victim", "x")}, wantErr: `refusing layer entry "planted/victim": parent "planted" is a symlink`},
		{name: "replace", ents: []ent{file("planted", "x")}, wantErr: `refusing layer entry "planted": already exists in the target directory`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unpack(context.Background(), bytes.NewReader(makeTar(t, tc.ents...)), dst, Options{})
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error = %v, want %s", err, tc.wantErr)
			}
			checkOutside(t, parent)
		})
	}
}

func TestUnpackOptions(t *testing.T) {
	_, dst := sandbox(t)
	_, err := Unpack(context.Background(), bytes.NewReader(nil), dst, Options{MaxEntries: -1})
	want := "unpack options: negative limit (MaxFileSize 0, MaxTotalSize 0, MaxEntries -1): use 0 for the default"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Unpack(ctx, bytes.NewReader(makeTar(t, file("a", "b"))), dst, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

// FuzzUnpack feeds arbitrary bytes to Unpack and checks that nothing
// appears outside dst and no escaping symlink is left inside it. Each run
// creates and scans directories, so minimising a new input is slow; cap it:
//
//	go test ./runtime/unpack -run '^$' -fuzz FuzzUnpack -fuzzminimizetime 200x
func FuzzUnpack(f *testing.F) {
	for _, tc := range hostileCases {
		b, err := os.ReadFile(corpusPath(tc.name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(makeTar(f, dir("a/"), file("a/b", "c"), symlink("l", "a"), hardlink("h", "a/b"), file("a/.wh.x", "")))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent, dst := sandbox(t)
		_, _ = Unpack(context.Background(), bytes.NewReader(data), dst, Options{MaxTotalSize: 64 << 10, MaxEntries: 64})
		checkOutside(t, parent)
	})
}
