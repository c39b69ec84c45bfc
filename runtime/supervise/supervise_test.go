package supervise

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/imagespec"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: -1}.withDefaults()
	want := []time.Duration{10, 20, 40, 50, 50, 50}
	for i, w := range want {
		if got := b.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	j := Backoff{Initial: 100 * time.Millisecond, Jitter: 0.2}.withDefaults()
	for range 100 {
		if d := j.Delay(1); d < 80*time.Millisecond || d > 120*time.Millisecond {
			t.Fatalf("jittered Delay(1) = %v, want within ±20%% of 100ms", d)
		}
	}
}

func TestStartValidation(t *testing.T) {
	ok := imagespec.Service{Name: "ok", Exec: []string{"/bin/true"}, Restart: imagespec.RestartNever}
	tests := []struct {
		name    string
		svcs    []imagespec.Service
		wantErr string
	}{
		{"no name", []imagespec.Service{{Exec: []string{"/bin/true"}}}, "service 0 has no name"},
		{"empty exec", []imagespec.Service{{Name: "a"}}, `service "a": exec is empty`},
		{"twice", []imagespec.Service{ok, ok}, `service "ok" given twice`},
		{"bad restart", []imagespec.Service{{Name: "a", Exec: []string{"x"}, Restart: "sometimes"}}, `restart policy "sometimes"`},
		{"notify fd 1", []imagespec.Service{{Name: "a", Exec: []string{"x"}, Ready: &imagespec.Ready{NotifyFD: 1}}}, "notification fd 1: use 3 or above"},
		{"empty ready", []imagespec.Service{{Name: "a", Exec: []string{"x"}, Ready: &imagespec.Ready{}}}, "ready check names no kind"},
		{"reload signal", []imagespec.Service{{Name: "a", Exec: []string{"x"}, Reload: &imagespec.Reload{Signal: "SIGKILL"}}}, `service "a": reload signal "SIGKILL": want SIGHUP, SIGUSR1 or SIGUSR2`},
		{"reload both", []imagespec.Service{{Name: "a", Exec: []string{"x"}, Reload: &imagespec.Reload{Signal: "SIGHUP", Command: []string{"/x"}}}}, "reload sets both a signal and a command"},
		{"reload relative", []imagespec.Service{{Name: "a", Exec: []string{"x"}, Reload: &imagespec.Reload{Command: []string{"x"}}}}, `reload command "x": start it with an absolute path`},
		{"reload empty", []imagespec.Service{{Name: "a", Exec: []string{"x"}, Reload: &imagespec.Reload{}}}, "reload names no kind"},
		{"unknown after", []imagespec.Service{{Name: "a", Exec: []string{"x"}, After: []string{"nope"}}}, `service "a": after "nope": unknown service`},
		{"cycle", []imagespec.Service{
			{Name: "a", Exec: []string{"x"}, After: []string{"b"}},
			{Name: "b", Exec: []string{"x"}, After: []string{"a"}},
		}, "cycle: a -> b -> a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSup(t, Options{})
			err := s.Start(context.Background(), tc.svcs)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Start error = %v, want containing %q", err, tc.wantErr)
			}
			if len(s.Status()) != 0 {
				t.Fatalf("a refused Start left services: %v", s.Status())
			}
		})
	}
}

func TestCrashLoopBacksOffAndGivesUp(t *testing.T) {
	dir := t.TempDir()
	stamps := filepath.Join(dir, "starts")
	sh := script(t, dir, "crash", fmt.Sprintf("echo start >> %s\necho crashing\nexit 3", stamps))
	s := newSup(t, Options{LogDir: dir, Backoff: Backoff{
		Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, Jitter: -1,
		BurstLimit: 6, BurstWindow: time.Minute,
	}})
	if err := s.Start(context.Background(), []imagespec.Service{{Name: "crash", Exec: []string{sh}, Restart: imagespec.RestartAlways}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "crash", StateFailed)
	err := s.WaitReady(context.Background(), "crash")
	var nr *NotReadyError
	if !errors.As(err, &nr) || nr.Service != "crash" || nr.State != StateFailed ||
		!strings.Contains(err.Error(), "gave up after 6 failures within 1m0s, last: exit status 3") {
		t.Fatalf("WaitReady = %v, want the give-up of crash", err)
	}
	st := status(t, s, "crash")
	if st.Restarts != 5 || st.LastExit != "exit status 3" {
		t.Errorf("status = %+v, want 5 restarts and exit status 3", st)
	}
	// Every restart follows its backoff: the events alternate between a
	// start and a backoff, ending in failed.
	var delays []time.Duration
	var seq []string
	for len(s.Events()) > 0 {
		ev := <-s.Events()
		switch ev.State {
		case StateBackoff:
			delays = append(delays, ev.Delay)
			seq = append(seq, "backoff")
		case StateRunning, StateStarting:
			seq = append(seq, "start")
		case StateFailed:
			seq = append(seq, "failed")
		}
	}
	if got, want := strings.Join(seq, " "), strings.TrimSpace(strings.Repeat("start backoff ", 5))+" start failed"; got != want {
		t.Errorf("events = %s, want %s", got, want)
	}
	want := []time.Duration{10, 20, 40, 40, 40}
	if len(delays) != len(want) {
		t.Fatalf("backoff delays = %v, want %v ms", delays, want)
	}
	for i := range want {
		if delays[i] != want[i]*time.Millisecond {
			t.Errorf("delay %d = %v, want %v", i, delays[i], want[i]*time.Millisecond)
		}
	}
	if b, err := os.ReadFile(stamps); err != nil || strings.Count(string(b), "start\n") != 6 {
		t.Fatalf("started %d times (%v), want 6", strings.Count(string(b), "start\n"), err)
	}
	waitFor(t, "6 lines of output in the log", func() bool {
		b, _ := os.ReadFile(LogPath(dir, "crash"))
		return strings.Count(string(b), "crashing") == 6
	})
}

func TestAfterOrder(t *testing.T) {
	dir := t.TempDir()
	// db becomes ready 200ms after it starts; app waits for it, web for app;
	// side depends on nothing and starts at once.
	db := script(t, dir, "db", "sleep 0.2\necho up >&3\nexec sleep 30")
	leaf := script(t, dir, "leaf", "exec sleep 30")
	// app declares readiness too, so "web after app" means after app's
	// script ran, not merely after its process was created.
	app := script(t, dir, "app", "echo up >&3\nexec sleep 30")
	s := newSup(t, Options{})
	err := s.Start(context.Background(), []imagespec.Service{
		{Name: "web", Exec: []string{leaf}, After: []string{"app"}, StopTimeout: imagespec.Duration(time.Second)},
		{Name: "app", Exec: []string{app}, After: []string{"db"}, Ready: &imagespec.Ready{NotifyFD: 3}},
		{Name: "db", Exec: []string{db}, Ready: &imagespec.Ready{NotifyFD: 3}},
		{Name: "side", Exec: []string{leaf}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := status(t, s, "db"); st.State != StateReady {
		t.Errorf("db state = %s, want ready", st.State)
	}
	// The order of the supervisor's events says who started when: a
	// service's start is its first starting or running event.
	at := map[string]int{}
	for i := 0; len(s.Events()) > 0; i++ {
		ev := <-s.Events()
		key := ev.Service + " " + string(ev.State)
		if ev.State == StateStarting || ev.State == StateRunning {
			key = ev.Service + " start"
		}
		if _, ok := at[key]; !ok {
			at[key] = i
		}
	}
	order := func(first, then string) {
		t.Helper()
		i, ok1 := at[first]
		j, ok2 := at[then]
		if !ok1 || !ok2 || i >= j {
			t.Errorf("want %q before %q; events at %v", first, then, at)
		}
	}
	order("db ready", "app start")
	order("app ready", "web start")
	order("side start", "db ready") // side (no after) did not wait for db
}

func TestReadiness(t *testing.T) {
	dir := t.TempDir()
	ln := testsupport.Listen(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(ok.Close)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	t.Cleanup(bad.Close)
	sleeper := script(t, dir, "sleeper", "exec sleep 30")
	notifier := script(t, dir, "notifier", "sleep 0.05\necho ready >&3\nexec sleep 30")
	quitter := script(t, dir, "quitter", "exec 3>&-\nexec sleep 30")
	short := imagespec.Duration(300 * time.Millisecond)

	tests := []struct {
		name    string
		exec    string
		ready   imagespec.Ready
		wantErr string
	}{
		{"notify fd", notifier, imagespec.Ready{NotifyFD: 3}, ""},
		{"notify fd 5", script(t, dir, "n5", "echo ready >&5\nexec sleep 30"), imagespec.Ready{NotifyFD: 5}, ""},
		{"notify fd never written", sleeper, imagespec.Ready{NotifyFD: 3, Timeout: short}, "no line on notification fd 3: not ready within 300ms"},
		{"notify fd closed", quitter, imagespec.Ready{NotifyFD: 3, Timeout: short}, "notification fd closed before a line was written"},
		{"tcp", sleeper, imagespec.Ready{TCP: ln.Addr().String()}, ""},
		{"tcp refused", sleeper, imagespec.Ready{TCP: refused, Timeout: short}, "connection refused"},
		{"http 200", sleeper, imagespec.Ready{HTTP: ok.URL}, ""},
		{"http 500", sleeper, imagespec.Ready{HTTP: bad.URL, Timeout: short}, "status 500 Internal Server Error"},
		{"command", sleeper, imagespec.Ready{Command: []string{"sh", "-c", "exit 0"}}, ""},
		{"command fails", sleeper, imagespec.Ready{Command: []string{"false"}, Timeout: short}, `command ["false"]: exit status 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSup(t, Options{})
			ready := tc.ready
			err := s.Start(context.Background(), []imagespec.Service{{
				Name: "svc", Exec: []string{tc.exec}, Restart: imagespec.RestartNever, Ready: &ready,
				StopTimeout: imagespec.Duration(time.Second),
			}})
			if err != nil {
				t.Fatal(err)
			}
			err = s.WaitReady(context.Background())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("WaitReady = %v", err)
				}
				if st := status(t, s, "svc"); st.State != StateReady {
					t.Fatalf("state = %s, want ready", st.State)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("WaitReady = %v, want containing %q", err, tc.wantErr)
			}
			if st := status(t, s, "svc"); st.State != StateFailed || !strings.Contains(st.LastError, "readiness check failed") {
				t.Fatalf("status = %+v, want failed on readiness", st)
			}
		})
	}
}

func TestWaitReadyTimeout(t *testing.T) {
	dir := t.TempDir()
	s := newSup(t, Options{})
	err := s.Start(context.Background(), []imagespec.Service{{
		Name: "slow", Exec: []string{script(t, dir, "slow", "exec sleep 30")},
		Ready: &imagespec.Ready{NotifyFD: 3}, StopTimeout: imagespec.Duration(time.Second),
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = s.WaitReady(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `service "slow" not ready (starting): not ready in time`) {
		t.Fatalf("WaitReady = %v, want a timeout naming slow", err)
	}
}

func TestLogsRotate(t *testing.T) {
	dir := t.TempDir()
	// 60 lines of 100 bytes through a 1000-byte cap keeping 2 old files.
	sh := script(t, dir, "chatty", `i=0; while [ $i -lt 60 ]; do printf 'line %03d %090d\n' $i 0; i=$((i+1)); done`)
	s := newSup(t, Options{LogDir: dir, LogMaxBytes: 1000, LogKeep: 2})
	if err := s.Start(context.Background(), []imagespec.Service{{Name: "chatty", Exec: []string{sh}, Restart: imagespec.RestartNever}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "chatty", StateStopped)
	base := LogPath(dir, "chatty")
	waitFor(t, "the last line in the log", func() bool {
		b, _ := os.ReadFile(base)
		return strings.Contains(string(b), "line 059")
	})
	for _, p := range []string{base, base + ".1", base + ".2"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("missing log: %v", err)
		}
		if fi.Size() > 1000 || fi.Size() == 0 {
			t.Errorf("%s is %d bytes, want 1..1000", p, fi.Size())
		}
	}
	if _, err := os.Stat(base + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3 exists (err %v), want only 2 rotated files kept", base, err)
	}
	b1, _ := os.ReadFile(base + ".1")
	if !strings.Contains(string(b1), "line 049") {
		t.Errorf("chatty.log.1 does not hold the lines before chatty.log: %q", b1)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	dir := t.TempDir()
	// The service survives SIGTERM (its handler records it), so only the
	// SIGKILL after the stop timeout ends it.
	marker := filepath.Join(dir, "got-term")
	sh := script(t, dir, "stubborn", "trap 'echo term >> "+marker+"' TERM\necho up >&3\nwhile :; do sleep 1; done")
	s := newSup(t, Options{})
	err := s.Start(context.Background(), []imagespec.Service{{
		Name: "stubborn", Exec: []string{sh}, Ready: &imagespec.Ready{NotifyFD: 3},
		StopTimeout: imagespec.Duration(2 * time.Second),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	pid := status(t, s, "stubborn").PID
	if err := s.Stop(context.Background(), "stubborn"); err != nil {
		t.Fatal(err)
	}
	st := status(t, s, "stubborn")
	if st.State != StateStopped || st.LastExit != "signal: killed" {
		t.Fatalf("status = %+v, want stopped by SIGKILL", st)
	}
	if b, err := os.ReadFile(marker); err != nil || !strings.HasPrefix(string(b), "term\n") {
		t.Errorf("the service's TERM handler recorded %q (%v): SIGTERM was not sent first, or was not survived", b, err)
	}
	if alive(pid) {
		t.Errorf("pid %d still exists after Stop", pid)
	}
}

func TestOrphansKilledAndReaped(t *testing.T) {
	if err := EnableSubreaper(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct {
		name string
		body string // leaves an orphaned grandchild whose pid is in $P
		stop bool
	}{
		{"stopped service", "sh -c 'trap \"\" TERM; sleep 300 & echo $! > $P'\necho up >&3\nexec sleep 300", true},
		{"crashed service", "sh -c 'trap \"\" TERM; sleep 300 & echo $! > $P'\necho up >&3\nsleep 0.2\nexit 1", false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(dir, strconv.Itoa(i)+".pid")
			sh := script(t, dir, strconv.Itoa(i), "export P="+pidFile+"\n"+tc.body)
			s := newSup(t, Options{})
			err := s.Start(context.Background(), []imagespec.Service{{
				Name: "parent", Exec: []string{sh}, Restart: imagespec.RestartNever,
				Ready: &imagespec.Ready{NotifyFD: 3}, StopTimeout: imagespec.Duration(time.Second),
			}})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.WaitReady(context.Background()); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			orphan, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			if _, ppid, _, ok := procStat(orphan); !ok || ppid != os.Getpid() {
				t.Fatalf("orphan %d has parent %d, want this process (the subreaper) %d", orphan, ppid, os.Getpid())
			}
			if tc.stop {
				if err := s.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
			} else {
				waitState(t, s, "parent", StateFailed)
			}
			waitFor(t, fmt.Sprintf("orphan %d to be killed and reaped", orphan), func() bool { return !alive(orphan) })
		})
	}
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	s := newSup(t, Options{})
	err := s.Start(context.Background(), []imagespec.Service{
		{Name: "a", Exec: []string{script(t, dir, "a", "exec sleep 30")}, StopTimeout: imagespec.Duration(time.Second)},
		{Name: "once", Exec: []string{script(t, dir, "once", "exit 1")}, Restart: imagespec.RestartNever},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "once", StateFailed)
	before := waitState(t, s, "a", StateRunning).PID
	if err := s.Restart(context.Background(), "a", "once"); err != nil {
		t.Fatal(err)
	}
	after := waitState(t, s, "a", StateRunning).PID
	if after == before || alive(before) {
		t.Errorf("Restart kept pid %d (now %d)", before, after)
	}
	waitState(t, s, "once", StateFailed)
	if err := s.Start(context.Background(), []imagespec.Service{{Name: "a", Exec: []string{"x"}}}); err == nil ||
		!strings.Contains(err.Error(), `service "a" is already supervised`) {
		t.Errorf("Start of a running service = %v", err)
	}
	if err := s.Stop(context.Background(), "nope"); !errors.Is(err, ErrUnknownService) {
		t.Errorf("Stop(nope) = %v, want ErrUnknownService", err)
	}
}
