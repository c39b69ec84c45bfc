// Package imagespec is the contract between the builder and the runtime: the
// metadata an undistro image carries about its packages, services, config
// files and users. The builder writes it into the image config (label
// [Label]); the runtime reads it before it unpacks anything. It is a leaf
// package: it imports neither the builder nor the runtime, so a node never
// carries the build system in its memory.
package imagespec
