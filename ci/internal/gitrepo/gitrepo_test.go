package gitrepo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/un-distro/undistro/ci/internal/citest"
	"github.com/un-distro/undistro/ci/internal/gitrepo"
)

func TestExport(t *testing.T) {
	ctx := context.Background()
	dir := citest.Repo(t)
	if err := os.Symlink("app.toml", filepath.Join(dir, "images", "alias.toml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "images", "app", "app.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	head := citest.Commit(t, dir, "links")
	r := gitrepo.Repo{Dir: dir}

	dst := t.TempDir()
	if err := r.Skeleton(ctx, head, dst); err != nil {
		t.Fatal(err)
	}
	if err := r.Export(ctx, head, dst, "recipes", "images", "missing"); err != nil {
		t.Fatal(err)
	}
	for p, body := range citest.Files {
		got, err := os.ReadFile(filepath.Join(dst, p))
		inExport := strings.HasPrefix(p, "recipes/") || strings.HasPrefix(p, "images/")
		switch {
		case inExport && (err != nil || string(got) != body):
			t.Errorf("%s = %q, %v; want %q", p, got, err, body)
		case !inExport && err == nil:
			t.Errorf("%s exported though outside the directories asked for", p)
		}
	}
	if fi, err := os.Stat(filepath.Join(dst, "src", "d", "docs")); err != nil || !fi.IsDir() {
		t.Errorf("skeleton lacks src/d/docs: %v", err)
	}
	if target, err := os.Readlink(filepath.Join(dst, "images", "alias.toml")); err != nil || target != "app.toml" {
		t.Errorf("symlink: %q, %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "images", "app", "app.conf")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("executable bit lost: %v %v", fi.Mode(), err)
	}

	// A symlink leaving the repository is refused, and nothing follows it.
	if err := os.Symlink("../../../etc/passwd", filepath.Join(dir, "images", "evil.toml")); err != nil {
		t.Fatal(err)
	}
	bad := citest.Commit(t, dir, "evil")
	err := r.Export(ctx, bad, t.TempDir(), "images")
	if err == nil || !strings.Contains(err.Error(), "images/evil.toml -> ../../../etc/passwd points outside the repository") {
		t.Fatalf("Export of an escaping symlink: %v", err)
	}

	// Changed lists both names of a rename.
	citest.Git(t, dir, "mv", "recipes/d.toml", "recipes/e.toml")
	renamed := citest.Commit(t, dir, "rename")
	files, err := r.Changed(ctx, bad, renamed)
	if err != nil || !slices.Equal(files, []string{"recipes/d.toml", "recipes/e.toml"}) {
		t.Fatalf("Changed = %q, %v", files, err)
	}

	if _, err := r.Commit(ctx, "-h"); !errors.Is(err, gitrepo.ErrUnknownRevision) {
		t.Fatalf("Commit(-h) = %v", err)
	}
}

func TestDirty(t *testing.T) {
	ctx := context.Background()
	dir := citest.Repo(t)
	r := gitrepo.Repo{Dir: dir}
	if d, err := r.Dirty(ctx); err != nil || len(d) != 0 {
		t.Fatalf("Dirty of a clean tree = %q, %v", d, err)
	}
	citest.Write(t, dir, map[string]string{"src/a/data.txt": "changed\n", "new.txt": "x\n"})
	if d, err := r.Dirty(ctx); err != nil || !slices.Equal(d, []string{"new.txt", "src/a/data.txt"}) && !slices.Equal(d, []string{"src/a/data.txt", "new.txt"}) {
		t.Fatalf("Dirty = %q, %v", d, err)
	}
}
