// Package gitrepo is the CI pipeline's view of a git repository through
// the git CLI: resolving revisions, listing the files a range of commits
// changed, and exporting directories of a commit. ci/plan and ci/publish
// share it.
package gitrepo
