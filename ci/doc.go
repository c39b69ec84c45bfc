// Package ci holds what continuous integration runs around the builder.
// Today that is the origin registry (package registry) that `undistro serve`
// runs and CI pushes to; building exactly what a commit changed and
// publishing signed images come with the CI issue.
package ci
