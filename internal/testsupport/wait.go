package testsupport

import (
	"testing"
	"time"
)

// WaitFor polls cond every few milliseconds until it holds, or fails the
// test saying what it waited for once timeout has passed. Tests poll what
// the code under test reports; the timeout only bounds a hang, it asserts
// no speed.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
