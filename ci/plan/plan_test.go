package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/un-distro/undistro/ci/internal/citest"
	"github.com/un-distro/undistro/ci/internal/gitrepo"
)

func TestPlan(t *testing.T) {
	repo := citest.Repo(t)
	base := citest.Git(t, repo, "rev-parse", "HEAD")
	for _, tc := range []struct {
		name     string
		change   map[string]string
		remove   []string
		recipes  []string
		files    []string
		packages []string
		roles    []string
	}{
		{name: "leaf recipe: exactly it and the roles holding it",
			change:  map[string]string{"recipes/b.toml": strings.Replace(citest.Files["recipes/b.toml"], `"2.0"`, `"2.1"`, 1)},
			recipes: []string{"b"}, packages: []string{"b"}, roles: []string{"app"}},
		{name: "leaf path source: its directory changed",
			change:  map[string]string{"src/d/d.txt": "d2\n"},
			recipes: []string{"d"}, packages: []string{"d"}, roles: []string{"edge", "tools"}},
		{name: "library recipe: its reverse dependencies and their roles",
			change:  map[string]string{"recipes/a.toml": strings.Replace(citest.Files["recipes/a.toml"], `"1.0"`, `"1.1"`, 1)},
			recipes: []string{"a"}, packages: []string{"a", "b", "c"}, roles: []string{"app"}},
		{name: "library path source: a file under its directory",
			change:  map[string]string{"src/a/data.txt": "a2\n"},
			recipes: []string{"a"}, packages: []string{"a", "b", "c"}, roles: []string{"app"}},
		{name: "role config file: only that role",
			change: map[string]string{"images/app/app.conf": "key = other\n"},
			files:  []string{"images/app/app.conf"}, roles: []string{"app"}},
		{name: "role file: it and the roles inheriting it",
			change: map[string]string{"images/tools.toml": "description = \"tools\"\n" + citest.Files["images/tools.toml"]},
			files:  []string{"images/tools.toml"}, roles: []string{"edge", "tools"}},
		{name: "inheriting role file: only it",
			change: map[string]string{"images/edge/edge.conf": "edge = 2\n"},
			files:  []string{"images/edge/edge.conf"}, roles: []string{"edge"}},
		{name: "new role",
			change: map[string]string{"images/solo.toml": "packages = [\"d\"]\n"},
			files:  []string{"images/solo.toml"}, roles: []string{"solo"}},
		{name: "nothing relevant: README, workflows, images/README.md",
			change: map[string]string{"README.md": "more\n", ".github/workflows/x.yml": "name: y\n", "images/README.md": "more roles\n", "docs/new.md": "x\n"}},
		{name: "excluded part of a path source",
			change: map[string]string{"src/d/docs/notes.md": "still not part of d\n"}},
		{name: "recipe removed and its role changed with it",
			remove:  []string{"recipes/d.toml", "src/d/d.txt", "src/d/docs/notes.md", "images/edge.toml", "images/edge/edge.conf"},
			change:  map[string]string{"images/tools.toml": "packages = [\"b\"]\n"},
			files:   []string{"images/edge.toml", "images/edge/edge.conf", "images/tools.toml"},
			roles:   []string{"tools"},
			recipes: nil, packages: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			citest.Git(t, repo, "checkout", "-q", "-B", "case", base)
			citest.Write(t, repo, tc.change)
			for _, f := range tc.remove {
				if err := os.Remove(filepath.Join(repo, f)); err != nil {
					t.Fatal(err)
				}
			}
			head := citest.Commit(t, repo, tc.name)
			p, err := Compute(context.Background(), repo, base, "HEAD")
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if p.Base != base || p.Head != head {
				t.Errorf("base, head = %s, %s; want %s, %s", p.Base, p.Head, base, head)
			}
			for _, l := range []struct {
				what      string
				got, want []string
			}{{"recipes", p.Recipes, tc.recipes}, {"role files", p.RoleFiles, tc.files},
				{"packages", p.Packages, tc.packages}, {"roles", p.Roles, tc.roles}} {
				if !slices.Equal(l.got, l.want) {
					t.Errorf("%s = %q, want %q", l.what, l.got, l.want)
				}
			}
			if got := matrixRoles(t, p); !slices.Equal(got, tc.roles) {
				t.Errorf("matrix roles = %q, want %q", got, tc.roles)
			}
			if p.Empty() != (len(tc.roles) == 0) {
				t.Errorf("Empty() = %v with roles %q", p.Empty(), tc.roles)
			}
		})
	}
}

// matrixRoles checks that the JSON is a GitHub Actions matrix: an object
// whose "include" is an array (never null) of objects with one string
// "role", and returns the roles.
func matrixRoles(t *testing.T, p *Plan) []string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("plan JSON is not an object: %v\n%s", err, b)
	}
	if bytes.Equal(m["include"], []byte("null")) || m["include"] == nil {
		t.Fatalf("matrix include is %s, want an array:\n%s", m["include"], b)
	}
	var include []map[string]any
	if err := json.Unmarshal(m["include"], &include); err != nil {
		t.Fatalf("matrix include is not an array of objects: %v\n%s", err, b)
	}
	roles := []string{}
	for _, e := range include {
		r, ok := e["role"].(string)
		if !ok || len(e) != 1 {
			t.Fatalf("matrix entry %v: want exactly {\"role\": NAME}", e)
		}
		roles = append(roles, r)
	}
	for _, k := range []string{"recipes", "roleFiles", "packages", "roles"} {
		if bytes.Equal(m[k], []byte("null")) {
			t.Errorf("%s is null, want an array", k)
		}
	}
	if len(roles) == 0 {
		return nil
	}
	return roles
}

func TestPlanErrors(t *testing.T) {
	repo := citest.Repo(t)
	for _, tc := range []struct {
		name, base, head, want string
		is                     error
	}{
		{"unknown base", "nope", "HEAD", `--base: unknown revision "nope"`, gitrepo.ErrUnknownRevision},
		{"option-looking base", "--output=x", "HEAD", `unknown revision "--output=x"`, gitrepo.ErrUnknownRevision},
		{"unknown head", "HEAD", "deadbeef", `--head: unknown revision "deadbeef"`, gitrepo.ErrUnknownRevision},
		{"not a repository", "HEAD", "HEAD", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := repo
			if tc.want == "" {
				dir = t.TempDir()
				tc.want = "unknown revision"
			}
			_, err := Compute(context.Background(), dir, tc.base, tc.head)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}

	// A recipe broken at head fails the plan naming file:line:col.
	citest.Write(t, repo, map[string]string{"recipes/b.toml": "name = \"b\"\nversion = 2\n"})
	citest.Commit(t, repo, "broken")
	_, err := Compute(context.Background(), repo, "HEAD~1", "HEAD")
	if err == nil || !strings.Contains(err.Error(), "b.toml:2:") {
		t.Fatalf("error = %v, want it to name b.toml:2:", err)
	}
}
