// Package ci is the home of undistro's CI pipeline: what continuous
// integration runs around the builder (building exactly what a commit
// changed, publishing signed images). Its origin registry, the one
// `undistro serve` runs and CI pushes to, is package ci/origin.
package ci
