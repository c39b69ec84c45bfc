// Package logctx carries the [log/slog] logger in a [context.Context]: the
// CLI (cmd/undistro) builds the logger once, from --verbose, and puts it in
// the command's context with [With]; every library takes it back with
// [From] where it logs. A context without a logger yields one that
// discards, so a library used on its own is silent unless its caller turns
// logging on.
//
// A long-lived object that logs from its own goroutines (a daemon, a
// proxy, a p2p client) takes the logger from the context given to its
// constructor or Run and keeps it; nothing reads a process-wide default.
package logctx
