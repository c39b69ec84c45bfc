package node

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
)

// daemonFor starts the daemon of a node opened on cfg and returns a
// client and a stop function that waits for it to exit.
func daemonFor(t *testing.T, cfg Config) (*Client, func()) {
	t.Helper()
	n, err := Open(logCtx(context.Background()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(logCtx(context.Background()))
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var c *Client
	testsupport.WaitFor(t, 10*time.Second, "the daemon to answer", func() bool {
		var err error
		c, err = Dial(logCtx(context.Background()), n.cfg.Socket)
		return err == nil
	})
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		n.Close()
	}
	t.Cleanup(stop)
	return c, stop
}

// TestTryConfirm: a switch on trial rolls back by itself unless confirmed;
// its deadline is in node.json, so it survives a daemon restart, shows in
// status, and a daemon that starts after it rolls back at once.
func TestTryConfirm(t *testing.T) {
	ctx := logCtx(context.Background())
	refs := testRoles(t)
	try := func(d time.Duration) SwitchOptions { o := unsigned; o.Try = d; return o }
	onA := func(t *testing.T) (Config, *Client, func(), string) {
		cfg := testConfig(t)
		c, stop := daemonFor(t, cfg)
		if _, err := c.Switch(ctx, refs["a"], unsigned); err != nil {
			t.Fatal(err)
		}
		return cfg, c, stop, mustStatus(t, c).Current.Digest
	}
	rolledBack := func(t *testing.T, c *Client, a string) {
		t.Helper()
		testsupport.WaitFor(t, 20*time.Second, "the unconfirmed switch to roll back", func() bool {
			st := mustStatus(t, c)
			return st.Current.Digest == a && st.Trial == nil && st.LastRollback != nil
		})
		st := mustStatus(t, c)
		if !strings.Contains(st.LastRollback.Reason, "not confirmed by") {
			t.Errorf("rollback reason %q", st.LastRollback.Reason)
		}
	}

	t.Run("confirmed in time", func(t *testing.T) {
		_, c, _, a := onA(t)
		p, err := c.Switch(ctx, refs["b"], try(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		st := mustStatus(t, c)
		if p.Trial == nil || st.Trial == nil || st.Trial.From != a || st.Trial.To != st.Current.Digest || !st.Trial.Deadline.Equal(p.Trial.Deadline) {
			t.Fatalf("plan trial %+v, status trial %+v", p.Trial, st.Trial)
		}
		var out bytes.Buffer
		st.Print(&out)
		if want := "trial:    switch to " + short(p.To) + " rolls back to " + short(a) + " at "; !strings.Contains(out.String(), want) {
			t.Errorf("status printed\n%s\nwant a line %q", out.String(), want)
		}
		if _, err := c.Confirm(ctx); err != nil {
			t.Fatal(err)
		}
		if st := mustStatus(t, c); st.Trial != nil || st.Current.Digest == a {
			t.Fatalf("after confirm: %+v", st)
		}
		if _, err := c.Confirm(ctx); !errors.Is(err, ErrNoTrial) {
			t.Fatalf("second confirm = %v, want ErrNoTrial", err)
		}
	})
	t.Run("not confirmed", func(t *testing.T) {
		_, c, _, a := onA(t)
		if _, err := c.Switch(ctx, refs["b"], try(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		rolledBack(t, c, a)
		if _, err := c.Confirm(ctx); !errors.Is(err, ErrNoTrial) {
			t.Fatalf("confirm after the rollback = %v, want ErrNoTrial", err)
		}
	})
	t.Run("deadline survives a restart, then confirmed", func(t *testing.T) {
		cfg, c, stop, _ := onA(t)
		p, err := c.Switch(ctx, refs["b"], try(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		stop()
		c, _ = daemonFor(t, cfg)
		st := mustStatus(t, c)
		if st.Trial == nil || !st.Trial.Deadline.Equal(p.Trial.Deadline) || st.Current.Digest != p.To {
			t.Fatalf("after restart: trial %+v current %+v, want the same deadline %s", st.Trial, st.Current, p.Trial.Deadline)
		}
		if _, err := c.Confirm(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("deadline passes while no daemon runs", func(t *testing.T) {
		cfg, c, stop, a := onA(t)
		p, err := c.Switch(ctx, refs["b"], try(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		stop()
		time.Sleep(time.Until(p.Trial.Deadline)) // let it pass with nobody watching
		n, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Confirm(ctx); !errors.Is(err, ErrTrialExpired) {
			t.Fatalf("confirm after the deadline = %v, want ErrTrialExpired", err)
		}
		n.Close()
		c, _ = daemonFor(t, cfg)
		rolledBack(t, c, a)
	})
	t.Run("bad duration", func(t *testing.T) {
		n, err := Open(ctx, testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		_, err = n.Switch(ctx, refs["a"], try(-time.Second))
		testsupport.WantErr(t, err, "--try -1s: want a positive duration")
	})
}
