// Package plan decides what a range of commits changes in the distro: the
// recipes and role files that differ between two commits, the packages to
// rebuild (the changed ones and, transitively, every package that depends
// on them) and the roles to republish (those holding a rebuilt package,
// and those whose role file or config directory, or an inherited role's,
// changed). A change outside recipes/ and images/ matters only when a path
// source builds from it.
//
// [Compute] reads the recipes and roles as they are at the head commit,
// not the work tree, so a plan is a function of the two commits. The
// result doubles as a GitHub Actions matrix ({"include":[{"role":...}]}).
package plan
