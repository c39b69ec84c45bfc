// Package builder turns recipes and roles into images: it resolves the
// roles' packages (graph), computes each package's cache key (cache), fetches
// and verifies sources (source), takes from a registry cache what another
// builder built and signed (remotecache, see WithCacheRegistry), builds what
// is still missing in a sandbox (sandbox), writes one deterministic layer per
// package plus one for the role's files (layer) and assembles one OCI image
// per role (image).
//
// Data flows one way: recipe → plan → built packages → layers → image.
package builder
