package testsupport

import (
	"context"
	"testing"
)

// Background runs run(ctx) in a goroutine until the returned stop is called
// or the test ends: stop cancels ctx, waits for run to return and reports
// its error as a test error (label names what ran). Calling stop twice is
// fine.
func Background(t testing.TB, label string, run func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", label, err)
		}
	}
	t.Cleanup(stop)
	return stop
}
