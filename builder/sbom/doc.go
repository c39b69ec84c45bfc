// Package sbom writes the SPDX 2.3 JSON software bill of materials of an
// undistro image, from the image metadata the builder records
// (runtime/imagespec): one SPDX package per undistro package with its
// version, declared license, source location and checksum, recipe build key
// and layer, all CONTAINED_BY a package for the image itself, which the
// document DESCRIBES.
//
// The document is deterministic: its namespace is derived from the image
// digest and its creation time is the build's SOURCE_DATE_EPOCH, so the same
// image always has byte-identical SBOMs. Validate checks a document against
// the rules of the SPDX 2.3 JSON schema and specification.
package sbom
