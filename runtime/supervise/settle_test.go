package supervise

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// TestSettle checks readiness of services that declare no check: ready
// once up for the settle period, never when they exit sooner.
func TestSettle(t *testing.T) {
	dir := t.TempDir()
	const settle = 300 * time.Millisecond
	tests := []struct {
		name      string
		body      string
		restart   string
		settle    time.Duration
		wantErr   string
		wantState State
		minWait   time.Duration // WaitReady must not return before this
	}{
		{"long-running is ready after settle", "exec sleep 30", imagespec.RestartAlways, settle, "", StateRunning, settle},
		{"crash loop never ready", "sleep 0.05\nexit 1", imagespec.RestartAlways, settle,
			"gave up after 3 failures within 1m0s, last: exit status 1", StateFailed, 0},
		{"crash loop exiting 0 never ready", "sleep 0.05\nexit 0", imagespec.RestartAlways, settle,
			"gave up after 3 failures within 1m0s", StateFailed, 0},
		{"one-shot task completes", "exit 0", imagespec.RestartNever, settle, "", StateStopped, 0},
		{"one-shot task failing", "exit 2", imagespec.RestartNever, settle, "failed: exit status 2", StateFailed, 0},
		{"no settle: ready at once", "exec sleep 30", imagespec.RestartAlways, -1, "", StateRunning, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSup(t, Options{Settle: tc.settle, Backoff: Backoff{
				Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, Jitter: -1,
				BurstLimit: 3, BurstWindow: time.Minute,
			}})
			sh := script(t, dir, strings.ReplaceAll(tc.name, " ", "_"), tc.body)
			start := time.Now()
			err := s.Start(context.Background(), []imagespec.Service{{
				Name: "svc", Exec: []string{sh}, Restart: tc.restart, StopTimeout: imagespec.Duration(time.Second),
			}})
			if err != nil {
				t.Fatal(err)
			}
			err = s.WaitReady(context.Background())
			took := time.Since(start)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("WaitReady = %v, want ready", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("WaitReady = %v, want containing %q", err, tc.wantErr)
			}
			if took < tc.minWait {
				t.Errorf("WaitReady returned after %v, before the settle period %v", took, tc.minWait)
			}
			if st := status(t, s, "svc"); st.State != tc.wantState {
				t.Errorf("state = %s, want %s", st.State, tc.wantState)
			}
		})
	}
}

// TestSettleStartingState checks a service without a check is "starting"
// during its settle period, then "running".
func TestSettleStartingState(t *testing.T) {
	dir := t.TempDir()
	s := newSup(t, Options{Settle: time.Hour})
	err := s.Start(context.Background(), []imagespec.Service{{
		Name: "svc", Exec: []string{script(t, dir, "svc", "exec sleep 30")}, StopTimeout: imagespec.Duration(time.Second),
	}})
	if err != nil {
		t.Fatal(err)
	}
	st := waitState(t, s, "svc", StateStarting)
	if st.PID == 0 {
		t.Errorf("starting service has no pid: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.WaitReady(ctx); err == nil || !strings.Contains(err.Error(), `service "svc" not ready (starting)`) {
		t.Fatalf("WaitReady during an hour's settle = %v, want not ready (starting)", err)
	}
}
