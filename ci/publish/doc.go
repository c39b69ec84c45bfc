// Package publish is the distro's release step, run on every commit to
// main: it plans the commit against a base (ci/plan), builds the roles the
// plan names with the builder, pushes each as PREFIX/ROLE:<commit> signed,
// with its SBOM and provenance attached, and only when every role is built,
// pushed and signed moves PREFIX/ROLE:main to it ([Promote]). A failed run
// tags nothing main; the summary it returns names the package that failed
// and its build log.
package publish
