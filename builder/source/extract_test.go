package source

import (
	"archive/tar"
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

var update = flag.Bool("update", false, "rewrite testdata archives")

// hostile is the corpus of archives Extract must refuse; -update writes
// them to testdata/hostile, and the tests and FuzzExtract read them there.
var hostile = []struct {
	file string
	tar  []member // tar members (zip when file ends in .zip)
	want string
}{
	{"dotdot.tar", []member{{name: "../x", body: "pwned"}}, `refusing archive member "../x": ".." component`},
	{"dotdot-inner.tar", []member{{name: "a/../../x", body: "pwned"}}, `refusing archive member "a/../../x": ".." component`},
	{"absolute.tar", []member{{name: "/tmp/undistro-pwned", body: "pwned"}}, `refusing archive member "/tmp/undistro-pwned": absolute path`},
	{"symlink-absolute.tar", []member{{name: "l", typ: tar.TypeSymlink, link: "/etc"}}, `refusing archive member "l": absolute symlink target "/etc" leaves the tree`},
	{"symlink-dotdot.tar", []member{{name: "a/l", typ: tar.TypeSymlink, link: "../../x"}}, `refusing archive member "a/l": symlink target "../../x" escapes the root`},
	{"symlink-chain.tar", []member{
		{name: "deep/a/", typ: tar.TypeDir},
		{name: "deep/a/b", typ: tar.TypeSymlink, link: "."},
		{name: "up", typ: tar.TypeSymlink, link: "deep/a/b/../../.."},
	}, "symlink up: resolves above the top directory"},
	{"symlink-write-through.tar", []member{
		{name: "deep/a/", typ: tar.TypeDir},
		{name: "deep/a/b", typ: tar.TypeSymlink, link: "."},
		{name: "up", typ: tar.TypeSymlink, link: "deep/a/b/../../.."},
		{name: "up/pwned", body: "pwned"},
	}, `refusing archive member "up/pwned": parent "up" is a symlink`},
	{"symlink-dir-then-file.tar", []member{
		{name: "l", typ: tar.TypeSymlink, link: "deep/a/b/../../.."},
		{name: "deep/a/b", typ: tar.TypeSymlink, link: "."},
	}, "symlink l: resolves above the top directory"},
	{"hardlink-dotdot.tar", []member{{name: "h", typ: tar.TypeLink, link: "../etc/passwd"}}, `refusing archive member "h": hardlink target "../etc/passwd": ".." component`},
	{"hardlink-absolute.tar", []member{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}}, `hardlink target "/etc/passwd": absolute path`},
	{"hardlink-dangling.tar", []member{{name: "h", typ: tar.TypeLink, link: "nothere"}}, `hardlink target "nothere" is not an earlier entry`},
	{"chardev.tar", []member{{name: "null", typ: tar.TypeChar}}, `refusing archive member "null": character device (device nodes and fifos are never allowed here)`},
	{"blockdev.tar", []member{{name: "sda", typ: tar.TypeBlock}}, `refusing archive member "sda": block device (device nodes`},
	{"fifo.tar", []member{{name: "p", typ: tar.TypeFifo}}, `refusing archive member "p": fifo (device nodes`},
	{"file-replaces-dir.tar", []member{{name: "a/", typ: tar.TypeDir}, {name: "a/x", body: "1"}, {name: "a", body: "2"}}, `refusing archive member "a": duplicate entry: already unpacked as a directory`},
	{"duplicate-file.tar", []member{{name: "f", body: "1"}, {name: "f", body: "2"}}, `refusing archive member "f": duplicate entry: already unpacked as a regular file`},
	{"zip-dotdot.zip", []member{{name: "../x", body: "pwned"}}, `refusing archive member "../x": ".." component`},
	{"zip-absolute.zip", []member{{name: "/tmp/undistro-pwned", body: "pwned"}}, "absolute path"},
	{"zip-symlink-escape.zip", []member{{name: "l", typ: tar.TypeSymlink, link: "../../../etc"}}, `refusing archive member "l": symlink target "../../../etc" escapes the root`},
}

func hostileBytes(t testing.TB, file string, ms []member) []byte {
	if strings.HasSuffix(file, ".zip") {
		return zipBytes(t, ms)
	}
	return tarBytes(t, ms)
}

func TestExtractRefusesHostileArchives(t *testing.T) {
	if *update {
		if err := os.MkdirAll(filepath.Join("testdata", "hostile"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, h := range hostile {
			if err := os.WriteFile(filepath.Join("testdata", "hostile", h.file), hostileBytes(t, h.file, h.tar), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, h := range hostile {
		t.Run(h.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "hostile", h.file))
			if err != nil {
				t.Fatalf("%v (run go test -run TestExtractRefusesHostileArchives -update)", err)
			}
			if !bytes.Equal(data, hostileBytes(t, h.file, h.tar)) {
				t.Fatalf("testdata/hostile/%s is stale; run with -update", h.file)
			}
			parent := tempDir(t)
			archive := filepath.Join(t.TempDir(), h.file)
			os.WriteFile(archive, data, 0o644)
			err = Extract(bg, archive, filepath.Join(parent, "dst"))
			testsupport.WantErr(t, err, h.want)
			if !strings.Contains(err.Error(), "unsafe archive") {
				t.Errorf("error %q does not say unsafe archive", err)
			}
			if got := cacheEntries(t, parent); !slices.Equal(got, []string{"dst"}) {
				t.Errorf("extraction left %q next to dst", got)
			}
			if _, err := os.Lstat("/tmp/undistro-pwned"); err == nil {
				t.Errorf("/tmp/undistro-pwned was written")
			}
		})
	}
}

func TestExtractAllowsInsideLinks(t *testing.T) {
	ms := []member{
		{name: "pkg/", typ: tar.TypeDir},
		{name: "pkg/lib/", typ: tar.TypeDir},
		{name: "pkg/lib/libx.so.1", body: "elf"},
		{name: "pkg/lib/libx.so", typ: tar.TypeSymlink, link: "libx.so.1"},
		{name: "pkg/up", typ: tar.TypeSymlink, link: "lib/../lib/libx.so"},
		{name: "pkg/dangling", typ: tar.TypeSymlink, link: "missing/file"},
		{name: "pkg/hard", typ: tar.TypeLink, link: "pkg/lib/libx.so.1"},
		{name: "pkg/./dot", body: "d"},
	}
	archive := filepath.Join("testdata", "good", "links.tar")
	if *update {
		os.MkdirAll(filepath.Dir(archive), 0o755)
		os.WriteFile(archive, tarBytes(t, ms), 0o644)
		os.WriteFile(filepath.Join("testdata", "good", "hello.tar.gz"), gzipBytes(t, tarBytes(t, helloTree)), 0o644)
		os.WriteFile(filepath.Join("testdata", "good", "hello.zip"), zipBytes(t, helloTree), 0o644)
	}
	dst := filepath.Join(tempDir(t), "dst")
	if err := Extract(bg, archive, dst); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"d lib", "f dot d", "f hard elf", "f lib/libx.so.1 elf",
		"l dangling -> missing/file", "l lib/libx.so -> libx.so.1", "l up -> lib/../lib/libx.so",
	}
	if got := listTree(t, dst); !slices.Equal(got, want) {
		t.Errorf("tree = %q\nwant %q", got, want)
	}
}

func TestExtractCorrupt(t *testing.T) {
	cases := []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"gzip garbage", "x.tar.gz", []byte("not gzip at all"), "x.tar.gz holds none data, not gzip as its name says"},
		{"gzip bad header", "x.tar.gz", []byte("\x1f\x8bnot really gzip"), "reading gzip header"},
		{"tar truncated", "x.tar", tarBytes(t, helloTree)[:700], "reading tar after 1 entries: unexpected EOF"},
		{"zip garbage", "x.zip", []byte("PK\x03\x04garbage"), "zip: not a valid zip file"},
		{"xz garbage", "x.tar.xz", []byte("not xz"), "x.tar.xz holds none data, not xz"},
		{"xz bad stream", "x.tar.xz", []byte("\xfd7zXZ\x00garbage"), "reading xz header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			archive := filepath.Join(t.TempDir(), tc.file)
			os.WriteFile(archive, tc.data, 0o644)
			err := Extract(bg, archive, filepath.Join(tempDir(t), "dst"))
			testsupport.WantErr(t, err, tc.want)
		})
	}
}

var fuzzExts = []string{".tar", ".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tar.zst"}

func FuzzExtract(f *testing.F) {
	for _, dir := range []string{"hostile", "good"} {
		ents, _ := os.ReadDir(filepath.Join("testdata", dir))
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join("testdata", dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			for i, ext := range fuzzExts {
				if strings.HasSuffix(e.Name(), ext) {
					f.Add(uint8(i), data)
				}
			}
		}
	}
	f.Add(uint8(0), tarBytes(f, helloTree))
	f.Add(uint8(1), gzipBytes(f, tarBytes(f, helloTree)))
	f.Add(uint8(2), zipBytes(f, helloTree))
	old := maxExtractBytes
	maxExtractBytes = 16 << 20
	f.Cleanup(func() { maxExtractBytes = old })
	f.Fuzz(func(t *testing.T, format uint8, data []byte) {
		base := t.TempDir()
		t.Cleanup(func() { removeTree(base) })
		archive := filepath.Join(base, "in"+fuzzExts[int(format)%len(fuzzExts)])
		if err := os.WriteFile(archive, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(base, "out")
		os.Mkdir(out, 0o755)
		canary := filepath.Join(out, "canary")
		os.WriteFile(canary, []byte("canary"), 0o644)
		dst := filepath.Join(out, "dst")
		err := Extract(bg, archive, dst)
		if got := cacheEntries(t, out); !slices.Equal(got, []string{"canary", "dst"}) {
			t.Fatalf("extraction left %q in the parent (err %v)", got, err)
		}
		if b, _ := os.ReadFile(canary); string(b) != "canary" {
			t.Fatalf("canary changed to %q", b)
		}
		if got := cacheEntries(t, base); len(got) != 2 {
			t.Fatalf("extraction wrote %q next to the archive", got)
		}
		if err != nil {
			return
		}
		root, rerr := os.OpenRoot(dst)
		if rerr != nil {
			t.Fatal(rerr)
		}
		defer root.Close()
		filepath.WalkDir(dst, func(p string, d fs.DirEntry, werr error) error {
			if werr != nil {
				t.Fatal(werr)
			}
			rel, _ := filepath.Rel(dst, p)
			switch t2 := d.Type(); {
			case t2&fs.ModeSymlink != 0:
				if e := resolveInside(root, filepath.ToSlash(rel)); e != nil {
					t.Fatalf("accepted symlink %s escapes: %v", rel, e)
				}
			case t2.IsDir(), t2.IsRegular():
			default:
				t.Fatalf("accepted special file %s (%v)", rel, t2)
			}
			return nil
		})
	})
}
