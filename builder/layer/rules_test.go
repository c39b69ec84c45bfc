package layer

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/archive"
)

// TestWriteRefusesWhatTheNodeRefuses: the layer writer applies the node's
// rule set (internal/archive), so a tree runtime/unpack would refuse fails
// here, naming the file and the rule.
func TestWriteRefusesWhatTheNodeRefuses(t *testing.T) {
	tests := []struct {
		name    string
		make    func(t *testing.T, root string)
		wantErr string // "" means accepted
	}{
		{name: "relative symlink escaping", make: func(t *testing.T, root string) {
			mkdirs(t, root, "usr/lib")
			symlink(t, "../../../etc/shadow", root, "usr/lib/x")
		}, wantErr: `/usr/lib/x: refusing layer entry "usr/lib/x": symlink target "../../../etc/shadow" escapes the root (rule "symlink")`},
		{name: "top-level symlink escaping", make: func(t *testing.T, root string) {
			symlink(t, "../etc/passwd", root, "x")
		}, wantErr: `/x: refusing layer entry "x": symlink target "../etc/passwd" escapes the root (rule "symlink")`},
		{name: "absolute symlink escaping", make: func(t *testing.T, root string) {
			mkdirs(t, root, "etc")
			symlink(t, "/../../etc/passwd", root, "etc/passwd")
		}, wantErr: `/etc/passwd: refusing layer entry "etc/passwd": symlink target "/../../etc/passwd" escapes the root (rule "symlink")`},
		{name: "absolute symlink inside the image", make: func(t *testing.T, root string) {
			mkdirs(t, root, "bin")
			symlink(t, "/etc/passwd", root, "bin/pw")
			symlink(t, "busybox", root, "bin/sh")
			symlink(t, "../usr/bin/env", root, "bin/env")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.make(t, root)
			_, err := Write(context.Background(), root, io.Discard, Options{Epoch: testEpoch})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v\nwant it to contain %s", err, tc.wantErr)
			}
			if !errors.Is(err, archive.ErrRefused) {
				t.Errorf("errors.Is(err, archive.ErrRefused) = false for %v", err)
			}
		})
	}
}

func mkdirs(t *testing.T, root, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, root, p string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
		t.Fatal(err)
	}
}
