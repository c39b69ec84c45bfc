// Package crash is the crash-injection hook of every durable write. Each
// write step (each temp file, fsync, rename and directory sync of
// internal/atomicfile, each blob, layer and link of the node store) calls
// [Point], so a test can kill the process at the Nth step and check that
// what was being written recovers to the old or the new state, never a mix.
//
// Environment:
//
//	UNDISTRO_CRASH_AT=N     the Nth call to Point sends SIGKILL to this process
//	UNDISTRO_CRASH_TRACE=1  every call prints "crash point N NAME" to stderr
//
// With neither set, Point costs one atomic add.
package crash
