// Package graph resolves the dependency graph of recipes: the closure of
// what a set of roots needs, in a deterministic build order, with cycles
// and unknown dependencies reported at the file:line:col that names them.
// It answers the builder's questions (what to build first, what goes in an
// image, what to rebuild when a recipe changes) and the CLI's (recipe deps,
// recipe uses, recipe lint via [Lint]).
package graph
