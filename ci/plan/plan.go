package plan

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/un-distro/undistro/builder/graph"
	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/builder/role"
	"github.com/un-distro/undistro/ci/internal/gitrepo"
)

// Plan is what the commits base..head change.
type Plan struct {
	Base string `json:"base"` // full commit id
	Head string `json:"head"` // full commit id
	// Include is the GitHub Actions matrix: one {"role": NAME} per role to
	// republish. Never null.
	Include []Entry `json:"include"`
	// Recipes are the recipes at head whose file or path source changed.
	Recipes []string `json:"recipes"`
	// RoleFiles are the changed files under images/ that belong to a role
	// (images/ROLE.toml or images/ROLE/...), repository-relative.
	RoleFiles []string `json:"roleFiles"`
	// Packages are the packages to rebuild, in build order.
	Packages []string `json:"packages"`
	// Roles are the roles to republish, sorted.
	Roles []string `json:"roles"`
}

// Entry is one job of the matrix.
type Entry struct {
	Role string `json:"role"`
}

// Empty reports whether nothing is to be republished.
func (p *Plan) Empty() bool { return len(p.Roles) == 0 }

// Compute plans base..head in the git repository repo (whose root holds
// recipes/ and images/). base and head are any revisions git resolves.
func Compute(ctx context.Context, repo, base, head string) (*Plan, error) {
	g := gitrepo.Repo{Dir: repo}
	baseID, err := g.Commit(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("planning: --base: %w", err)
	}
	headID, err := g.Commit(ctx, head)
	if err != nil {
		return nil, fmt.Errorf("planning: --head: %w", err)
	}
	changed, err := g.Changed(ctx, baseID, headID)
	if err != nil {
		return nil, fmt.Errorf("planning: %w", err)
	}
	tree, err := os.MkdirTemp("", "undistro-plan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tree)
	if err := g.Skeleton(ctx, headID, tree); err != nil {
		return nil, fmt.Errorf("planning: %w", err)
	}
	if err := g.Export(ctx, headID, tree, "recipes", "images"); err != nil {
		return nil, fmt.Errorf("planning: %w", err)
	}
	p, err := compute(tree, changed)
	if err != nil {
		return nil, fmt.Errorf("planning %s..%s: %w", short(baseID), short(headID), err)
	}
	p.Base, p.Head = baseID, headID
	return p, nil
}

func short(id string) string { return id[:min(12, len(id))] }

// compute plans from the files changed, reading recipes/ and images/ (as
// they are at head) from tree.
func compute(tree string, changed []string) (*Plan, error) {
	p := &Plan{Include: []Entry{}, Recipes: []string{}, RoleFiles: []string{}, Packages: []string{}, Roles: []string{}}
	recipes := map[string]*recipe.Recipe{}
	if dir := filepath.Join(tree, "recipes"); isDir(dir) {
		var err error
		if recipes, err = recipe.LoadDir(dir); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(recipes))
	for n := range recipes {
		names = append(names, n)
	}
	sort.Strings(names)
	gr, err := graph.Resolve(recipes, names)
	if err != nil {
		return nil, err
	}
	roles := map[string]*role.Role{}
	if dir := filepath.Join(tree, "images"); isDir(dir) {
		if roles, err = role.LoadAll(dir); err != nil {
			return nil, err
		}
	}

	rebuild := map[string]bool{}
	for _, n := range names {
		rc := recipes[n]
		rel, err := filepath.Rel(tree, rc.File)
		if err != nil {
			return nil, err
		}
		if slices.Contains(changed, filepath.ToSlash(rel)) || feeds(rc.Source, changed) {
			p.Recipes = append(p.Recipes, n)
			rebuild[n] = true
			for _, u := range gr.ReverseDeps(n) {
				rebuild[u] = true
			}
		}
	}
	for _, n := range gr.Order() {
		if rebuild[n] {
			p.Packages = append(p.Packages, n)
		}
	}

	// Roles whose own file or config directory changed.
	touched := map[string]bool{}
	for _, f := range changed {
		rest, ok := strings.CutPrefix(f, "images/")
		if !ok {
			continue
		}
		first, _, nested := strings.Cut(rest, "/")
		name := first
		if !nested {
			var isTOML bool
			if name, isTOML = strings.CutSuffix(first, ".toml"); !isTOML {
				continue
			}
		}
		// A role at head, or one whose file changed (a role removed with
		// its config directory).
		if _, ok := roles[name]; ok || !nested || slices.Contains(changed, "images/"+name+".toml") {
			p.RoleFiles = append(p.RoleFiles, f)
			touched[name] = true
		}
	}
	for name, r := range roles {
		if touched[name] || inheritsTouched(roles, r, touched, map[string]bool{}) ||
			slices.ContainsFunc(gr.RunClosure(r.Packages), func(n string) bool { return rebuild[n] }) {
			p.Roles = append(p.Roles, name)
		}
	}
	sort.Strings(p.Roles)
	for _, r := range p.Roles {
		p.Include = append(p.Include, Entry{Role: r})
	}
	return p, nil
}

// inheritsTouched reports whether r inherits, directly or not, a role in
// touched.
func inheritsTouched(roles map[string]*role.Role, r *role.Role, touched, seen map[string]bool) bool {
	for _, parent := range r.Inherit {
		if seen[parent] {
			continue
		}
		seen[parent] = true
		if touched[parent] {
			return true
		}
		if pr, ok := roles[parent]; ok && inheritsTouched(roles, pr, touched, seen) {
			return true
		}
	}
	return false
}

// feeds reports whether a changed file is part of a path source: under its
// directory, not excluded, not under .git. (Git-ignored files never appear
// in a diff.)
func feeds(s recipe.Source, changed []string) bool {
	if s.Kind() != "path" {
		return false
	}
	dir := path.Clean(filepath.ToSlash(s.Path))
	for _, f := range changed {
		if dir != "." && f != dir && !strings.HasPrefix(f, dir+"/") {
			continue
		}
		if slices.Contains(strings.Split(f, "/"), ".git") {
			continue
		}
		excluded := false
		for _, ex := range s.Exclude {
			ex = path.Clean(filepath.ToSlash(ex))
			if f == ex || strings.HasPrefix(f, ex+"/") {
				excluded = true
				break
			}
		}
		if !excluded {
			return true
		}
	}
	return false
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
