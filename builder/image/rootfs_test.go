package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/layer"
	"github.com/un-distro/undistro/runtime/imagespec"
)

func TestExportRootfs(t *testing.T) {
	f := newFixture(t, "hello v1\n")
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := ExportRootfs(context.Background(), f.assemble(t, testEpoch), dir); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		path    string
		content string
		mode    os.FileMode
	}{
		{"usr/bin/hello", "hello v1\n", 0o755},
		{"bin/busybox", "#!/bin/sh\necho busybox\n", 0o755},
		{"etc/whoami.conf", "port=80\n", 0o640},
	}
	for _, c := range checks {
		p := filepath.Join(dir, c.path)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != c.content {
			t.Errorf("%s = %q, %v", c.path, b, err)
			continue
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != c.mode || fi.ModTime().Unix() != testEpoch {
			t.Errorf("%s mode %v mtime %v", c.path, fi.Mode(), fi.ModTime())
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "usr")); err != nil || fi.ModTime().Unix() != testEpoch {
		t.Errorf("usr dir: %v %v", fi, err)
	}

	// Exporting another image to the same dir replaces the tree whole.
	base, err := Assemble(f.layers[:1], Config{Role: "base", Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if err := ExportRootfs(context.Background(), base, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "usr/bin/hello")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old tree survived the replacement: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bin/busybox")); err != nil {
		t.Error(err)
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	if len(ents) != 1 {
		t.Errorf("leftovers beside rootfs: %v", ents)
	}
}

// hostileLayer writes a gzip tar of entries and returns it as a Layer.
func hostileLayer(t *testing.T, entries []*tar.Header) Layer {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, h := range entries {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len("pwned"))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte("pwned"))
		}
	}
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	p := filepath.Join(t.TempDir(), "evil.tar.gz")
	if err := os.WriteFile(p, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
	return Layer{Path: p, Info: layer.Info{Digest: sum(gz.Bytes()), DiffID: sum(raw.Bytes()), Size: int64(gz.Len())}}
}

func TestExportRootfsHostile(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		entries []*tar.Header
		wantErr string
	}{
		{name: "dotdot", entries: []*tar.Header{{Name: "../../" + filepath.Base(outside) + "/x", Typeflag: tar.TypeReg, Mode: 0o644}}, wantErr: `unsafe tar path "../../`},
		// go-containerregistry drops entries under a symlinked directory.
		{name: "symlink dir escape", entries: []*tar.Header{
			{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "evil/x", Typeflag: tar.TypeReg, Mode: 0o644},
		}},
		// go-containerregistry drops a relative link that leaves the root,
		// so evil/x lands in a plain directory inside it.
		{name: "relative symlink escape", entries: []*tar.Header{
			{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../../../" + outside},
			{Name: "evil/x", Typeflag: tar.TypeReg, Mode: 0o644},
		}},
		{name: "hardlink escape", entries: []*tar.Header{{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}}},
		{name: "setuid undeclared", entries: []*tar.Header{{Name: "su", Typeflag: tar.TypeReg, Mode: 0o4755}}, wantErr: `refusing layer entry "su": setuid/setgid bit (mode 4755)`},
		{name: "device", entries: []*tar.Header{{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}, wantErr: `refusing layer entry "null": character device on a path the image metadata does not declare privileged`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Assemble([]Layer{hostileLayer(t, tc.entries)}, Config{Role: "evil"})
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "rootfs")
			err = ExportRootfs(context.Background(), img, dir)
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("wrote outside the root: %v", ents)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("failed export left %s: %v", dir, err)
			}
			if ents, _ := os.ReadDir(filepath.Dir(dir)); len(ents) != 0 {
				t.Errorf("failed export left temp dirs: %v", ents)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	f := newFixture(t, "hello v1\n")
	img := f.assemble(t, testEpoch)
	r, err := Inspect(img)
	if err != nil {
		t.Fatal(err)
	}
	if r.Digest != digestOf(t, img) || r.Role != "web" || r.OS != "linux" || r.Created.Unix() != testEpoch {
		t.Errorf("report header = %+v", r)
	}
	raw, _ := img.RawManifest()
	cfgRaw, _ := img.RawConfigFile()
	want := int64(len(raw) + len(cfgRaw))
	for _, l := range f.layers {
		want += l.Info.Size
	}
	if r.Size != want {
		t.Errorf("Size = %d, want %d", r.Size, want)
	}
	if len(r.Layers) != 3 || r.Layers[1].Package != "hello" || r.Layers[1].Holds != "pkg:hello@2.12" || r.Layers[1].Files != 1 || r.Layers[2].Package != "" {
		t.Errorf("layers = %+v", r.Layers)
	}
	if len(r.Packages) != 2 || len(r.Services) != 1 || len(r.Files) != 1 || len(r.Warnings) != 0 {
		t.Errorf("report = %+v", r)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Role:", "web", "pkg:hello@2.12", "PACKAGE", "hello", "2.12", "SERVICE", "/usr/bin/hello", "/etc/whoami.conf", "0640", "abc123"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, out.String())
		}
	}

	plain, err := Assemble(f.layers[:1], Config{Role: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	r, err = Inspect(plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "no undistro metadata") {
		t.Errorf("warnings = %q", r.Warnings)
	}
}

// TestExportRootfsPrivileged: a setuid file the image metadata declares
// privileged is exported with its bit, as the node would unpack it.
func TestExportRootfsPrivileged(t *testing.T) {
	img, err := Assemble([]Layer{hostileLayer(t, []*tar.Header{{Name: "su", Typeflag: tar.TypeReg, Mode: 0o4755}})},
		Config{Role: "priv", Meta: &imagespec.Image{Role: "priv", Privileged: []string{"/su"}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := ExportRootfs(context.Background(), img, dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "su"))
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("su mode %v, want setuid kept", fi.Mode())
	}
}
