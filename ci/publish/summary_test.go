package publish

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/un-distro/undistro/ci/plan"
	"github.com/un-distro/undistro/internal/testsupport"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestSummaryGolden(t *testing.T) {
	p := &plan.Plan{Base: "1111111111111111111111111111111111111111", Head: "2222222222222222222222222222222222222222",
		Include: []plan.Entry{{Role: "app"}}, Recipes: []string{"b"}, RoleFiles: []string{},
		Packages: []string{"b"}, Roles: []string{"app"}}
	for _, tc := range []struct {
		name string
		s    *Summary
	}{
		{"published", &Summary{Commit: p.Head, Registry: "reg.example/distro", Signing: "key", Plan: p, MainMoved: true,
			Roles: []RoleResult{{Role: "app", Digest: "sha256:" + string(bytes.Repeat([]byte("ab"), 32)),
				Ref: "reg.example/distro/app:" + p.Head, Main: "reg.example/distro/app:main",
				Built: []string{"b"}, Cached: []string{"a", "c"}, Pulled: []string{"a"}}}}},
		{"failed", &Summary{Commit: p.Head, Registry: "reg.example/distro", Signing: "keyless", Plan: p, Roles: []RoleResult{},
			Failed: &Failure{Package: "b", Log: "/cache/logs/b.log", Error: "package b failed to build (log: /cache/logs/b.log): exit status 3"}}},
		{"empty", &Summary{Commit: p.Head, Registry: "reg.example/distro", Signing: "key", Roles: []RoleResult{},
			Plan: &plan.Plan{Base: p.Base, Head: p.Head, Include: []plan.Entry{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var md, text bytes.Buffer
			if err := tc.s.WriteMarkdown(&md); err != nil {
				t.Fatal(err)
			}
			if err := tc.s.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".md", md.Bytes())
			golden(t, tc.name+".txt", text.Bytes())
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testsupport.Golden(t, filepath.Join("testdata", name), got, *update)
}

// TestAppendMarkdown: the summary is appended (GitHub's step summary
// file collects every step's), the file created if missing.
func TestAppendMarkdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.md")
	s := &Summary{Commit: "2222222222222222222222222222222222222222", Registry: "reg.example/distro", Signing: "key", Roles: []RoleResult{},
		Plan: &plan.Plan{Include: []plan.Entry{}}}
	var md bytes.Buffer
	if err := s.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.AppendMarkdown(path); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := md.String() + md.String(); string(got) != want {
		t.Errorf("file after two appends:\n%s\nwant:\n%s", got, want)
	}
	if err := s.AppendMarkdown(filepath.Join(path, "sub")); err == nil {
		t.Error("appending under a file succeeded")
	}
}
