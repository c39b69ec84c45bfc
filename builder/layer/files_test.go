package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestWriteFiles(t *testing.T) {
	src := t.TempDir()
	conf := filepath.Join(src, "config.toml")
	key := filepath.Join(src, "key")
	if err := os.WriteFile(conf, []byte("port = 80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []File{
		{Path: "/etc/whoami/key", Source: key, Mode: 0o400, UID: 100, GID: 101},
		{Path: "/etc/whoami.d/x", Source: conf, Mode: os.ModeSetuid | 0o755},
		{Path: "/etc/whoami/config.toml", Source: conf, Mode: 0o644},
		{Path: "/srv/run", Source: conf, Mode: os.ModeSetuid | 0o755},
	}
	o := Options{Epoch: 99, Privileged: []string{"/srv/run"}, Owners: map[string][2]int{"/srv": {5, 5}}}
	var first []byte
	// Input order must not matter.
	for i, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}} {
		var in []File
		for _, j := range order {
			in = append(in, files[j])
		}
		var buf bytes.Buffer
		info, err := WriteFiles(context.Background(), in, &buf, o)
		if err != nil {
			t.Fatal(err)
		}
		checkInfo(t, info, buf.Bytes())
		if i == 0 {
			first = buf.Bytes()
			want := []entry{
				{Name: "etc/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "etc/whoami/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "etc/whoami/config.toml", Type: tar.TypeReg, Mode: 0o644, Size: 10},
				{Name: "etc/whoami/key", Type: tar.TypeReg, Mode: 0o400, UID: 100, GID: 101, Size: 6},
				{Name: "etc/whoami.d/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "etc/whoami.d/x", Type: tar.TypeReg, Mode: 0o755, Size: 10},
				{Name: "srv/", Type: tar.TypeDir, Mode: 0o755, UID: 5, GID: 5},
				{Name: "srv/run", Type: tar.TypeReg, Mode: 0o4755, Size: 10},
			}
			if got := readTar(t, first, 99); !reflect.DeepEqual(got, want) {
				t.Errorf("entries:\n got %+v\nwant %+v", got, want)
			}
			wantFiles := []string{"etc/whoami.d/x", "etc/whoami/config.toml", "etc/whoami/key", "srv/run"}
			if !reflect.DeepEqual(info.Files, wantFiles) {
				t.Errorf("Files = %q, want %q", info.Files, wantFiles)
			}
		} else if !bytes.Equal(buf.Bytes(), first) {
			t.Error("input order changed the output")
		}
	}
}

func TestWriteFilesErrors(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		files   []File
		wantErr string
	}{
		{name: "relative", files: []File{{Path: "etc/x", Source: src}}, wantErr: `path "etc/x" must be absolute and clean`},
		{name: "unclean", files: []File{{Path: "/etc/../x", Source: src}}, wantErr: `path "/etc/../x" must be absolute and clean`},
		{name: "root", files: []File{{Path: "/", Source: src}}, wantErr: `path "/" must be absolute`},
		{name: "duplicate", files: []File{{Path: "/a", Source: src}, {Path: "/a", Source: src}}, wantErr: "/a is listed twice"},
		{name: "file is parent", files: []File{{Path: "/a", Source: src}, {Path: "/a/b", Source: src}}, wantErr: "/a is both a file and a parent directory"},
		{name: "missing source", files: []File{{Path: "/a", Source: src + ".nope"}}, wantErr: "reading config file " + src + ".nope for /a"},
		{name: "source is dir", files: []File{{Path: "/a", Source: filepath.Dir(src)}}, wantErr: "not a regular file"},
		{name: "negative owner", files: []File{{Path: "/a", Source: src, UID: -1}}, wantErr: "/a: negative owner -1:0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteFiles(context.Background(), tc.files, &bytes.Buffer{}, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestWalkLess(t *testing.T) {
	in := []string{"a.txt", "a/b", "a", "b", "a/b/c", "a-b", "a/a"}
	sort.Slice(in, func(i, j int) bool { return walkLess(in[i], in[j]) })
	want := []string{"a", "a/a", "a/b", "a/b/c", "a-b", "a.txt", "b"}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("order = %q, want %q", in, want)
	}
}
