// Package drift notices local edits of a node's managed config files as
// they happen and reports them back as a patch to the recipes repository.
//
// While `undistro node run` runs, a Tracker watches the directories of
// ROOT/etc that hold managed files (runtime/etcmerge) with one inotify
// instance; the kernel tells it of each write, rename, removal or change of
// mode, and it records the edit then, with the time and the event, and the
// writing process when fanotify can say (it needs CAP_SYS_ADMIN). Nothing
// is ever found by scanning: an edit made while no daemon runs is not
// recorded (a switch still merges it, as etcmerge compares contents).
//
// The role's drift policy decides what happens: "report" keeps the edit
// and records it; "revert" restores the image's file at once and logs it.
// `undistro node drift` lists the recorded files that still differ from
// the image with their diffs; --patch writes them as a git patch against
// the recipes repository's layout (images/ROLE/...), which `git apply`
// accepts.
package drift
