// Package registry is undistro's embedded origin registry: go-containerregistry's
// in-process OCI distribution registry with blobs on disk and a manifest
// journal on disk, so a restart loses nothing. `undistro serve` runs it;
// `make demo` pushes to it.
package registry
