// Package testsupport holds the helpers that tests across the module
// share, so a rule about tests lives in one place.
//
// The main rule: a test that needs a tool or a privilege the machine lacks
// is skipped on a developer's machine, but fails, naming what to install,
// when the environment variable CI is set (CI runs `make deps` as root,
// so anything missing there is a broken pipeline, not a reason to pass).
// Skips under -short stay skips everywhere: they are a choice, not a lack.
package testsupport
