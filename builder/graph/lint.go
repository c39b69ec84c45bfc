package graph

import (
	"maps"
	"slices"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/builder/role"
	"github.com/un-distro/undistro/internal/tomlpos"
)

// Lint loads every recipe in recipesDir and every role in imagesDir,
// resolves the dependencies of all recipes and checks every role against
// them (packages, option overrides, services). It returns nil, or every
// problem as [tomlpos.Errors] sorted by file, line and column.
func Lint(recipesDir, imagesDir string) error {
	var errs tomlpos.Errors
	recipes, err := recipe.LoadDir(recipesDir)
	errs.Append(err)
	roles, err := role.LoadAll(imagesDir)
	errs.Append(err)
	g, rerrs := resolve(recipes, slices.Sorted(maps.Keys(recipes)))
	errs = append(errs, rerrs...)
	for _, name := range slices.Sorted(maps.Keys(roles)) {
		r := roles[name]
		errs.Append(r.Check(recipes, g.RunClosure(r.Packages)))
	}
	errs.Sort()
	return errs.Err()
}
