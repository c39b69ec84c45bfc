// Package imagetest builds the small OCI images, layouts and registries
// that tests of the signer, the node store, the policy, the node runtime
// and the commands share: tar layers from entry lists, undistro images
// whose metadata label declares packages and services, OCI layouts naming
// images by role, random images, and go-containerregistry's registry on
// loopback. It is for tests only, and separate from package testsupport so
// that a test needing only RequireTool does not pull in image code.
package imagetest
