// Package image assembles undistro's OCI images and moves them around.
//
// [Assemble] turns the layer blobs that builder/layer wrote (one per
// package, one for the role's config files) into a v1.Image without
// recompressing anything: the image config carries os/arch, the build epoch
// as its creation time, one history entry per layer, and the runtime
// metadata (runtime/imagespec) as a label; each manifest layer is annotated
// with what it holds. The result is byte-for-byte a function of its inputs.
//
// [WriteLayout] stores images in an OCI image layout, one manifest per role
// named by org.opencontainers.image.ref.name; [Push] sends one to a
// registry; [Load] reads one back from either; [ExportRootfs] flattens one
// into a directory; [Inspect] summarises one for `undistro image inspect`.
package image
