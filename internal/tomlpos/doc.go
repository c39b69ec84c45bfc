// Package tomlpos is the strict, positioned TOML decoder of recipes, roles
// and the node's config file (runtime/facts): it
// decodes a document into a tagged struct and, unlike a plain decoder,
// reports every syntax error, duplicate key, unknown key (with the closest
// valid one) and wrong type at once, each as an [Error] naming the file,
// line and column, plus an [Index] from every decoded key to where it was
// written so later validation can point at the right place too.
//
// Recipes (builder/recipe), roles (builder/role) and the dependency graph
// (builder/graph) report their problems as [Errors].
package tomlpos
