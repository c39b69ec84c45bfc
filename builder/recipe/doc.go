// Package recipe reads package recipes, recipes/NAME.toml: what a package is,
// where its source comes from (with a checksum), what it depends on, how it
// is built and which services it provides.
//
// Decoding is strict: every unknown key, wrong type, missing checksum or bad
// value is reported with the file, line and column that holds it, and all the
// problems of a file are reported at once as tomlpos.Errors, by the strict,
// positioned TOML decoder of internal/tomlpos, which also reads role
// files in builder/role.
//
// A loaded [Recipe] feeds the dependency graph (builder/graph) and the
// builder's cache key ([Recipe.Canonical], [Recipe.EffectiveOptions]).
package recipe
