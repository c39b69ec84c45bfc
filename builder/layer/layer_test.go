package layer

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
)

const testEpoch = 1700000000

var (
	longName = strings.Repeat("d", 60) + "/" + strings.Repeat("f", 70)
	// paxName cannot be split into USTAR's prefix and name: it needs a PAX
	// path record.
	paxName = "usr/share/doc/" + strings.Repeat("p", 150)
)

// makeTree builds the same logical tree under root; mtime and owner vary
// the host metadata that must not reach the layer.
func makeTree(t *testing.T, root string, mtime time.Time, uid int) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"usr/bin", "usr/share/doc", "etc", "var/empty", strings.Repeat("d", 60)} {
		must(os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	files := map[string]string{
		"usr/bin/hello":         "#!/bin/sh\necho hello\n",
		"usr/bin/su":            "setuid binary",
		"usr/share/doc/README":  "docs\n",
		"usr/share/doc/a.txt":   "",
		"etc/hello.conf":        "greeting=hi\n",
		"usr/share/doc/shadowd": "owned",
		longName:                "long",
		paxName:                 "pax",
	}
	for p, c := range files {
		must(os.WriteFile(filepath.Join(root, p), []byte(c), 0o644))
	}
	must(os.Symlink("hello", filepath.Join(root, "usr/bin/hi")))
	must(os.Link(filepath.Join(root, "usr/bin/hello"), filepath.Join(root, "usr/bin/hello2")))
	must(filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(p, uid, uid); err != nil {
				return err
			}
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		return os.Chtimes(p, mtime, mtime)
	}))
	// After chown, which clears setuid/setgid.
	must(os.Chmod(filepath.Join(root, "usr/bin/hello"), 0o755))
	must(os.Chmod(filepath.Join(root, "usr/bin/su"), os.ModeSetuid|0o755))
	must(os.Chmod(filepath.Join(root, "usr/share/doc/a.txt"), os.ModeSetgid|0o640))
	must(os.Chmod(filepath.Join(root, "var/empty"), os.ModeSticky|0o777))
}

func writeLayer(t *testing.T, dir string, o Options) (Info, []byte) {
	t.Helper()
	var buf bytes.Buffer
	info, err := Write(context.Background(), dir, &buf, o)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return info, buf.Bytes()
}

type entry struct {
	Name, Link string
	Type       byte
	Mode       int64
	UID, GID   int
	Size       int64
}

func readTar(t *testing.T, blob []byte, epoch int64) []entry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() || zr.Comment != "" {
		t.Errorf("gzip header carries name %q mtime %v comment %q", zr.Name, zr.ModTime, zr.Comment)
	}
	tr := tar.NewReader(zr)
	var got []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.ModTime.Unix() != epoch {
			t.Errorf("%s: mtime %d, want %d", h.Name, h.ModTime.Unix(), epoch)
		}
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() || h.Uname != "" || h.Gname != "" || len(h.Xattrs) != 0 { //nolint:staticcheck // checking nothing leaks
			t.Errorf("%s: host metadata leaked: %+v", h.Name, h)
		}
		for k := range h.PAXRecords {
			if k != "path" && k != "linkpath" {
				t.Errorf("%s: unexpected PAX record %s", h.Name, k)
			}
		}
		got = append(got, entry{h.Name, h.Linkname, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size})
	}
	return got
}

func TestWriteEntries(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, time.Unix(1500000000, 0), 1000)
	info, blob := writeLayer(t, dir, Options{
		Epoch:      testEpoch,
		Owners:     map[string][2]int{"/usr/share/doc/shadowd": {0, 42}, "etc": {7, 8}},
		Privileged: []string{"/usr/bin/su"},
	})
	d := strings.Repeat("d", 60)
	want := []entry{
		{Name: d + "/", Type: tar.TypeDir, Mode: 0o755},
		{Name: longName, Type: tar.TypeReg, Mode: 0o644, Size: 4},
		{Name: "etc/", Type: tar.TypeDir, Mode: 0o755, UID: 7, GID: 8},
		{Name: "etc/hello.conf", Type: tar.TypeReg, Mode: 0o644, Size: 12},
		{Name: "usr/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/hello", Type: tar.TypeReg, Mode: 0o755, Size: 21},
		{Name: "usr/bin/hello2", Link: "usr/bin/hello", Type: tar.TypeLink, Mode: 0o755},
		{Name: "usr/bin/hi", Link: "hello", Type: tar.TypeSymlink, Mode: 0o777},
		{Name: "usr/bin/su", Type: tar.TypeReg, Mode: 0o4755, Size: 13},
		{Name: "usr/share/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/share/doc/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "usr/share/doc/README", Type: tar.TypeReg, Mode: 0o644, Size: 5},
		{Name: "usr/share/doc/a.txt", Type: tar.TypeReg, Mode: 0o640},
		{Name: paxName, Type: tar.TypeReg, Mode: 0o644, Size: 3},
		{Name: "usr/share/doc/shadowd", Type: tar.TypeReg, Mode: 0o644, GID: 42, Size: 5},
		{Name: "var/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "var/empty/", Type: tar.TypeDir, Mode: 0o1777},
	}
	got := readTar(t, blob, testEpoch)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", got, want)
	}
	wantFiles := []string{longName, "etc/hello.conf", "usr/bin/hello", "usr/bin/hello2", "usr/bin/hi", "usr/bin/su",
		"usr/share/doc/README", "usr/share/doc/a.txt", paxName, "usr/share/doc/shadowd"}
	if !reflect.DeepEqual(info.Files, wantFiles) {
		t.Errorf("Files = %q, want %q", info.Files, wantFiles)
	}
	checkInfo(t, info, blob)
}

// checkInfo recomputes every digest and size from the bytes.
func checkInfo(t *testing.T, info Info, blob []byte) {
	t.Helper()
	sum := sha256.Sum256(blob)
	if want := "sha256:" + hex.EncodeToString(sum[:]); info.Digest != want {
		t.Errorf("Digest = %s, want %s", info.Digest, want)
	}
	if info.Size != int64(len(blob)) {
		t.Errorf("Size = %d, want %d", info.Size, len(blob))
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	sum = sha256.Sum256(raw)
	if want := "sha256:" + hex.EncodeToString(sum[:]); info.DiffID != want {
		t.Errorf("DiffID = %s, want %s", info.DiffID, want)
	}
	if info.UncompressedSize != int64(len(raw)) {
		t.Errorf("UncompressedSize = %d, want %d", info.UncompressedSize, len(raw))
	}
}

func TestWritePrefix(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	info, blob := writeLayer(t, dir, Options{Epoch: 5, Prefix: "/opt/app/"})
	want := []entry{
		{Name: "opt/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "opt/app/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "opt/app/f", Type: tar.TypeReg, Mode: 0o600, Size: 1},
	}
	if got := readTar(t, blob, 5); !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(info.Files, []string{"opt/app/f"}) {
		t.Errorf("Files = %q", info.Files)
	}
}

func TestWriteEmpty(t *testing.T) {
	info, blob := writeLayer(t, t.TempDir(), Options{Epoch: 1})
	if got := readTar(t, blob, 1); len(got) != 0 {
		t.Errorf("entries of empty dir: %+v", got)
	}
	if len(info.Files) != 0 || info.Files == nil {
		t.Errorf("Files = %#v, want empty non-nil", info.Files)
	}
	checkInfo(t, info, blob)
}

// TestWriteDeterministic writes the same logical tree held in two
// directories with different mtimes and owners, and under different
// GOMAXPROCS, and wants one digest.
func TestWriteDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	makeTree(t, a, time.Unix(1000, 0), 0)
	makeTree(t, b, time.Now(), 4242)
	// More than a few pgzip blocks of compressible, non-trivial data.
	big := make([]byte, 5*BlockSize+12345)
	for i := range big {
		big[i] = byte((i * i / 7) % 251)
	}
	for _, d := range []string{a, b} {
		if err := os.WriteFile(filepath.Join(d, "big"), big, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := Options{Epoch: testEpoch}
	var digests []string
	for _, tc := range []struct {
		dir   string
		procs int
	}{{a, 1}, {a, 8}, {b, 1}, {b, 2}, {b, 8}} {
		prev := runtime.GOMAXPROCS(tc.procs)
		info, blob := writeLayer(t, tc.dir, o)
		runtime.GOMAXPROCS(prev)
		checkInfo(t, info, blob)
		digests = append(digests, fmt.Sprintf("%s %s", info.Digest, info.DiffID))
	}
	for i := range digests {
		if digests[i] != digests[0] {
			t.Errorf("run %d digest %s, run 0 %s", i, digests[i], digests[0])
		}
	}
	// And the epoch does change the output.
	other, _ := writeLayer(t, a, Options{Epoch: testEpoch + 1})
	if other.DiffID+" "+other.Digest == digests[0] {
		t.Error("changing the epoch did not change the digest")
	}
}

func TestWriteErrors(t *testing.T) {
	fifoDir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifoDir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("", "sock") // short path: unix socket names are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	l, err := net.Listen("unix", filepath.Join(sockDir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	devDir := t.TempDir()
	devErr := syscall.Mknod(filepath.Join(devDir, "null"), syscall.S_IFCHR|0o666, 1<<8|3)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		opts    Options
		wantErr string
		is      error
	}{
		{name: "fifo", dir: fifoDir, wantErr: filepath.Join(fifoDir, "pipe") + ": unsupported file type (fifo)", is: ErrUnsupportedType},
		{name: "socket", dir: sockDir, wantErr: filepath.Join(sockDir, "s") + ": unsupported file type (socket)", is: ErrUnsupportedType},
		{name: "device", dir: devDir, wantErr: filepath.Join(devDir, "null") + ": unsupported file type (character device)", is: ErrUnsupportedType},
		{name: "negative epoch", dir: t.TempDir(), opts: Options{Epoch: -1}, wantErr: "epoch -1 is negative"},
		{name: "negative owner", dir: t.TempDir(), opts: Options{Owners: map[string][2]int{"etc": {-1, 0}}}, wantErr: "owner of etc is -1:0"},
		{name: "prefix escapes", dir: t.TempDir(), opts: Options{Prefix: "opt/../../x"}, wantErr: `prefix "opt/../../x" must not contain ..`},
		{name: "missing dir", dir: filepath.Join(fifoDir, "nope"), wantErr: "no such file or directory"},
		{name: "not a dir", dir: file, wantErr: file + " is not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "device" && devErr != nil {
				testsupport.Unavailable(t, "mknod needs root: %v", devErr)
			}
			_, err := Write(context.Background(), tc.dir, io.Discard, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
		})
	}
}

func TestWriteCancelled(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, time.Now(), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Write(ctx, dir, io.Discard, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
