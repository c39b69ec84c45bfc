package supervise

import (
	"context"
	"slices"
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
		// wantEvents, if set, are the states the service's events report,
		// in order: a service that must settle is "starting" first, so
		// WaitReady did not return before the settle timer fired.
		wantEvents []State
	}{
		{"long-running is ready after settle", "exec sleep 30", imagespec.RestartAlways, settle, "", StateRunning,
			[]State{StateWaiting, StateStarting, StateRunning}},
		// The crash loops never stay up for an hour, however slow the machine.
		{"crash loop never ready", "exit 1", imagespec.RestartAlways, time.Hour,
			"gave up after 3 failures within 1m0s, last: exit status 1", StateFailed, nil},
		{"crash loop exiting 0 never ready", "exit 0", imagespec.RestartAlways, time.Hour,
			"gave up after 3 failures within 1m0s", StateFailed, nil},
		{"one-shot task completes", "exit 0", imagespec.RestartNever, settle, "", StateStopped, nil},
		{"one-shot task failing", "exit 2", imagespec.RestartNever, settle, "failed: exit status 2", StateFailed, nil},
		{"no settle: ready at once", "exec sleep 30", imagespec.RestartAlways, -1, "", StateRunning,
			[]State{StateWaiting, StateRunning}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSup(t, Options{Settle: tc.settle, Backoff: Backoff{
				Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, Jitter: -1,
				BurstLimit: 3, BurstWindow: time.Minute,
			}})
			sh := script(t, dir, strings.ReplaceAll(tc.name, " ", "_"), tc.body)
			err := s.Start(context.Background(), []imagespec.Service{{
				Name: "svc", Exec: []string{sh}, Restart: tc.restart, StopTimeout: imagespec.Duration(time.Second),
			}})
			if err != nil {
				t.Fatal(err)
			}
			err = s.WaitReady(context.Background())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("WaitReady = %v, want ready", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("WaitReady = %v, want containing %q", err, tc.wantErr)
			}
			if tc.wantEvents != nil {
				var got []State
				for len(s.Events()) > 0 {
					if ev := <-s.Events(); ev.Service == "svc" {
						got = append(got, ev.State)
					}
				}
				if !slices.Equal(got, tc.wantEvents) {
					t.Errorf("events = %v, want %v", got, tc.wantEvents)
				}
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
