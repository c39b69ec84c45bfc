package graph

import (
	"fmt"
	"slices"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/tomlpos"
)

// Load loads every recipe in recipesDir and resolves the graph of roots,
// or of every recipe when roots is empty.
func Load(recipesDir string, roots ...string) (*Graph, error) {
	all, err := recipe.LoadDir(recipesDir)
	if err != nil {
		return nil, err
	}
	if len(roots) == 0 {
		roots = sortedKeys(all)
	}
	return Resolve(all, roots)
}

// Users answers `undistro recipe uses NAME`: every recipe in recipesDir
// that depends on name, directly or not, through build or run
// dependencies, in build order (what a change to name rebuilds). A name
// with no recipe is an error naming the closest one.
func Users(recipesDir, name string) ([]string, error) {
	all, err := recipe.LoadDir(recipesDir)
	if err != nil {
		return nil, err
	}
	if _, ok := all[name]; !ok {
		return nil, fmt.Errorf("no recipe %q in %s%s", name, recipesDir, tomlpos.Suggest(name, sortedKeys(all)))
	}
	g, err := Resolve(all, sortedKeys(all))
	if err != nil {
		return nil, err
	}
	return slices.Clip(g.ReverseDeps(name)), nil
}
