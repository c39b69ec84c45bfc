// Package citest builds the git repositories the CI pipeline's tests plan
// and publish: a few recipes with library and leaf packages, three roles
// (one inheriting another), committed with git.
package citest
