// Package crash is the runtime's crash-injection hook. Every write step of
// the node store (each blob, layer, rename and fsync) calls [Point], so a
// test can kill the process at the Nth step and check that the store
// recovers to the old or the new state, never a mix.
//
// Environment:
//
//	UNDISTRO_CRASH_AT=N     the Nth call to Point sends SIGKILL to this process
//	UNDISTRO_CRASH_TRACE=1  every call prints "crash point N NAME" to stderr
//
// With neither set, Point costs one atomic add.
package crash
