package unpack

import (
	"archive/tar"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/hostile from the generator")

var epoch = time.Unix(1700000000, 0)

// ent is one tar entry; a zero Typeflag means a regular file holding body.
type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	size             int64 // > 0: header size with no body written (a lying header)
	major, minor     int64
}

func file(name, body string) ent       { return ent{name: name, body: body, typ: tar.TypeReg} }
func dir(name string) ent              { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) ent  { return ent{name: name, link: target, typ: tar.TypeSymlink} }
func hardlink(name, target string) ent { return ent{name: name, link: target, typ: tar.TypeLink} }
func withMode(e ent, mode int64) ent   { e.mode = mode; return e }
func special(name string, typ byte) ent {
	return ent{name: name, typ: typ, mode: 0o644, major: 1, minor: 3}
}
func lying(name string, size int64) ent { return ent{name: name, typ: tar.TypeReg, size: size} }
func typed(name string, typ byte) ent   { return ent{name: name, typ: typ} }

// makeTar writes entries as a tar. A lying entry ends the archive right
// after its header, as a truncated download would.
func makeTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, ModTime: epoch,
			Size: int64(len(e.body)), Devmajor: e.major, Devminor: e.minor, Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if e.size > 0 {
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("writing header %q: %v", e.name, err)
		}
		if e.size > 0 {
			return buf.Bytes()
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("writing %q: %v", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type hostileCase struct {
	name    string
	ents    []ent
	opts    Options // the table test's options; the corpus file is the same bytes
	wantErr string
}

// hostileCases is the corpus: each is written to testdata/hostile/NAME.tar
// and must be refused with wantErr.
var hostileCases = []hostileCase{
	{name: "absolute-path", ents: []ent{file("/etc/passwd", "x")}, wantErr: `refusing layer entry "/etc/passwd": absolute path`},
	{name: "dotdot", ents: []ent{file("../evil", "x")}, wantErr: `refusing layer entry "../evil": ".." component`},
	{name: "dotdot-middle", ents: []ent{dir("a/"), file("a/../../evil", "x")}, wantErr: `refusing layer entry "a/../../evil": ".." component`},
	{name: "dotdot-harmless-looking", ents: []ent{file("a/../b", "x")}, wantErr: `refusing layer entry "a/../b": ".." component`},
	{name: "parent-symlink-absolute", ents: []ent{symlink("etc", "/etc"), file("etc/passwd", "root::0:0::/:/bin/sh\n")}, wantErr: `refusing layer entry "etc/passwd": parent "etc" is a symlink`},
	{name: "parent-symlink-relative", ents: []ent{dir("d/"), symlink("l", "d"), file("l/x", "x")}, wantErr: `refusing layer entry "l/x": parent "l" is a symlink`},
	{name: "parent-symlink-deep", ents: []ent{dir("a/"), dir("a/b/"), symlink("a/b/c", "/"), dir("a/b/c/d/")}, wantErr: `refusing layer entry "a/b/c/d/": parent "a/b/c" is a symlink`},
	{name: "parent-is-file", ents: []ent{file("f", "x"), file("f/x", "x")}, wantErr: `refusing layer entry "f/x": parent "f" is a regular file, not a directory`},
	{name: "symlink-escape-relative", ents: []ent{symlink("l", "../../etc/passwd")}, wantErr: `refusing layer entry "l": symlink target "../../etc/passwd" escapes the root`},
	{name: "symlink-escape-nested", ents: []ent{dir("d/"), symlink("d/l", "../../x")}, wantErr: `refusing layer entry "d/l": symlink target "../../x" escapes the root`},
	{name: "symlink-escape-absolute", ents: []ent{symlink("l", "/../../etc")}, wantErr: `refusing layer entry "l": symlink target "/../../etc" escapes the root`},
	{name: "symlink-escape-dotdot-after-down", ents: []ent{symlink("l", "a/../../x")}, wantErr: `refusing layer entry "l": symlink target "a/../../x" escapes the root`},
	{name: "symlink-empty-target", ents: []ent{symlink("l", "")}, wantErr: `refusing layer entry "l": empty symlink target`},
	{name: "symlink-then-file", ents: []ent{symlink("x", "/etc/shadow"), file("x", "pwned")}, wantErr: `refusing layer entry "x": duplicate entry: already unpacked as a symlink`},
	{name: "hardlink-dotdot", ents: []ent{hardlink("h", "../etc/passwd")}, wantErr: `refusing layer entry "h": hardlink target "../etc/passwd": ".." component`},
	{name: "hardlink-absolute", ents: []ent{hardlink("h", "/etc/passwd")}, wantErr: `refusing layer entry "h": hardlink target "/etc/passwd": absolute path`},
	{name: "hardlink-missing", ents: []ent{hardlink("h", "nope")}, wantErr: `refusing layer entry "h": hardlink target "nope" is not an earlier entry of this layer`},
	{name: "hardlink-directory", ents: []ent{dir("d/"), hardlink("h", "d")}, wantErr: `refusing layer entry "h": hardlink target "d" is a directory`},
	{name: "hardlink-through-symlink", ents: []ent{dir("d/"), file("d/f", "x"), symlink("s", "d"), hardlink("h", "s/f")}, wantErr: `refusing layer entry "h": hardlink target "s/f" is not an earlier entry of this layer`},
	{name: "hardlink-to-setuid", ents: []ent{withMode(file("su", "x"), 0o4755), hardlink("copy", "su")}, opts: Options{Privileged: []string{"/su"}},
		wantErr: `refusing layer entry "copy": hardlink to setuid/setgid file "su" on a path the image metadata does not declare privileged`},
	{name: "char-device", ents: []ent{dir("dev/"), special("dev/null", tar.TypeChar)}, wantErr: `refusing layer entry "dev/null": character device on a path the image metadata does not declare privileged`},
	{name: "block-device", ents: []ent{special("sda", tar.TypeBlock)}, wantErr: `refusing layer entry "sda": block device on a path the image metadata does not declare privileged`},
	{name: "fifo", ents: []ent{special("pipe", tar.TypeFifo)}, wantErr: `refusing layer entry "pipe": fifo on a path the image metadata does not declare privileged`},
	{name: "setuid", ents: []ent{withMode(file("bin/su", "x"), 0o4755)}, wantErr: `refusing layer entry "bin/su": setuid/setgid bit (mode 4755) on a path the image metadata does not declare privileged`},
	{name: "setgid-file", ents: []ent{withMode(file("bin/wall", "x"), 0o2755)}, opts: Options{Privileged: []string{"/bin/other"}},
		wantErr: `refusing layer entry "bin/wall": setuid/setgid bit (mode 2755) on a path the image metadata does not declare privileged`},
	{name: "setuid-directory", ents: []ent{withMode(dir("d/"), 0o4755)}, wantErr: `refusing layer entry "d/": setuid/setgid bit (mode 4755) on a path the image metadata does not declare privileged`},
	{name: "file-too-big", ents: []ent{lying("big", 5<<30)}, wantErr: `refusing layer entry "big": file size 5368709120 exceeds the limit of 4294967296 bytes`},
	{name: "file-over-limit", ents: []ent{file("f", "0123456789")}, opts: Options{MaxFileSize: 5}, wantErr: `refusing layer entry "f": file size 10 exceeds the limit of 5 bytes`},
	{name: "total-over-limit", ents: []ent{file("a", "0123456789"), file("b", "0123456789")}, opts: Options{MaxTotalSize: 15},
		wantErr: `refusing layer entry "b": layer content exceeds the limit of 15 bytes`},
	{name: "too-many-entries", ents: []ent{dir("a/"), dir("b/"), dir("c/"), dir("d/")}, opts: Options{MaxEntries: 3}, wantErr: `refusing layer entry "d/": more than 3 entries in one layer`},
	{name: "duplicate-file", ents: []ent{file("f", "one"), file("f", "two")}, wantErr: `refusing layer entry "f": duplicate entry: already unpacked as a regular file`},
	{name: "file-then-dir", ents: []ent{file("f", "x"), dir("f/")}, wantErr: `refusing layer entry "f/": duplicate entry: already unpacked as a regular file`},
	{name: "dir-then-file", ents: []ent{dir("d/"), file("d", "x")}, wantErr: `refusing layer entry "d": duplicate entry: already unpacked as a directory`},
	{name: "dir-then-symlink", ents: []ent{dir("d/"), symlink("d", "/")}, wantErr: `refusing layer entry "d": duplicate entry: already unpacked as a directory`},
	{name: "dot-slash-duplicate", ents: []ent{file("./f", "x"), file("f", "y")}, wantErr: `refusing layer entry "f": duplicate entry: already unpacked as a regular file`},
	{name: "root-not-dir", ents: []ent{file(".", "x")}, wantErr: `refusing layer entry ".": the root must be a directory`},
	{name: "sparse", ents: []ent{typed("s", tar.TypeGNUSparse)}, wantErr: `reading layer tar after 0 entries: archive/tar: invalid tar header`},
	{name: "unknown-type", ents: []ent{typed("u", 'Z')}, wantErr: `refusing layer entry "u": unsupported entry type "Z"`},
	{name: "contiguous", ents: []ent{typed("c", tar.TypeCont)}, wantErr: `refusing layer entry "c": unsupported entry type "7"`},
	{name: "whiteout-aufs-meta", ents: []ent{file(".wh..wh.plnk", "")}, wantErr: `refusing layer entry ".wh..wh.plnk": unsupported whiteout ".wh..wh.plnk" (only .wh.NAME and .wh..wh..opq are OCI whiteouts)`},
	{name: "whiteout-empty", ents: []ent{file("d/.wh.", "")}, wantErr: `refusing layer entry "d/.wh.": whiteout of "" names no file`},
	{name: "whiteout-dotdot", ents: []ent{file("d/.wh...", "")}, wantErr: `refusing layer entry "d/.wh...": whiteout of ".." names no file`},
	{name: "whiteout-through-symlink", ents: []ent{symlink("l", "/etc"), file("l/.wh.passwd", "")}, wantErr: `refusing layer entry "l/.wh.passwd": parent "l" is a symlink`},
	{name: "truncated", ents: []ent{file("ok", "fine"), lying("cut", 100)}, wantErr: `writing cut: unexpected EOF`},
}

func corpusPath(name string) string { return filepath.Join("testdata", "hostile", name+".tar") }

// TestGenerateCorpus checks testdata/hostile against the generator; with
// -update it rewrites it: go test ./runtime/unpack -run TestGenerateCorpus -update
func TestGenerateCorpus(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			b := makeTar(t, tc.ents...)
			p := corpusPath(tc.name)
			if *update {
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("reading corpus (run with -update to regenerate): %v", err)
			}
			if !bytes.Equal(got, b) {
				t.Fatalf("%s differs from the generator: run go test -run TestGenerateCorpus -update", p)
			}
		})
	}
}
