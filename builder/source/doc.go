// Package source fetches the sources named by recipes and keeps them in a
// content-addressed cache.
//
// Each recipe declares exactly one source kind with its checksum (see
// recipe.Source): a URL with a sha256, a git commit, a Go module with its
// go.sum hash, a Debian binary package with its sha256, a Debian source
// package verified by its .dsc, or a directory of this repository. A
// [Cache] turns a recipe into a verified, read-only directory tree under
// DIR/<sha256 of kind and identity>/tree, fetching it once: a second
// [Cache.Fetch] touches no network and runs no command (bar the one `git
// ls-files` a path source's identity needs, and one `go env GOMODCACHE`
// per Cache for Go sources when WithGoModCache is not given). Trees are built in a temporary
// directory and renamed into place, so a crash never leaves half a tree,
// and a source whose checksum does not match leaves nothing behind.
//
// [Cache.Identity] is the cheap, fetch-free content identity the build
// cache keys on. Each kind is one [Fetcher]; [Extract] is the archive
// extractor, which refuses hostile archives (absolute paths, "..",
// symlinks leading out of the tree, device nodes).
package source
