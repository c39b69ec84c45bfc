package supervise

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/supervise/internal/launch"
)

// DefaultReadyTimeout is how long a service has to become ready when its
// Ready.Timeout is zero.
const DefaultReadyTimeout = 30 * time.Second

// Readiness-check retry intervals: the first retry comes after
// probeFirst, doubling up to probeMax.
const (
	probeFirst = 20 * time.Millisecond
	probeMax   = time.Second
)

// waitReady returns nil once spec's readiness check passes, or an error
// when ctx ends first (its deadline is the service's ready timeout).
func (s *Supervisor) waitReady(ctx context.Context, spec imagespec.Service, p *proc) error {
	r := spec.Ready
	if r.NotifyFD > 0 {
		select {
		case err := <-p.notify:
			return err
		case <-ctx.Done():
			return fmt.Errorf("no line on notification fd %d: %w", r.NotifyFD, context.Cause(ctx))
		}
	}
	probe, what := s.probe(spec, p)
	interval := probeFirst
	t := time.NewTimer(0)
	defer t.Stop()
	var last error
	for {
		select {
		case <-ctx.Done():
			if last == nil {
				last = context.Cause(ctx)
			}
			return fmt.Errorf("%s: %w", what, last)
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, probeMax)
		err := probe(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() == nil || last == nil {
			last = err // a probe cut short by the deadline says less than the one before
		}
		t.Reset(interval)
		interval = min(2*interval, probeMax)
	}
}

// probe returns spec's readiness check and a description of it.
func (s *Supervisor) probe(spec imagespec.Service, p *proc) (func(context.Context) error, string) {
	r := spec.Ready
	dial := dialer(p)
	switch {
	case r.TCP != "":
		return func(ctx context.Context) error {
			c, err := dial(ctx, "tcp", r.TCP)
			if err != nil {
				return err
			}
			return c.Close()
		}, "tcp " + r.TCP
	case r.HTTP != "":
		client := s.http
		if p.private {
			client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: dial}}
		}
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.HTTP, nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				return fmt.Errorf("status %s", resp.Status)
			}
			return nil
		}, "http " + r.HTTP
	default:
		return func(ctx context.Context) error { return s.runCheck(ctx, spec, p, r.Command) }, fmt.Sprintf("command %q", r.Command)
	}
}

// dialer returns how to reach p's ports: from the host, or for a service
// with a network namespace of its own from inside that namespace. The
// socket is made by a thread that joined the namespace (setns) and is
// discarded afterwards, so nothing else of the supervisor runs there.
func dialer(p *proc) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	if !p.private {
		return d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			// Never unlocked: the thread, in the service's namespace, ends
			// with this goroutine.
			runtime.LockOSThread()
			ns, err := os.Open("/proc/" + strconv.Itoa(p.pid) + "/ns/net")
			if err != nil {
				ch <- result{nil, fmt.Errorf("opening the service's network namespace: %w", err)}
				return
			}
			defer ns.Close()
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, fmt.Errorf("joining the service's network namespace: %w", err)}
				return
			}
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// runCheck runs argv (spec's readiness or reload command) as the service's user, in its
// own process group, and reports the command's failure. For a sandboxed
// service it runs in the service's root as the service sees it
// (/proc/PID/root: paths resolve through the service's mounts, so its
// /tmp and /run are visible), in a PID namespace of its own, without the
// capabilities the service lacks; otherwise on the host under the image
// root.
func (s *Supervisor) runCheck(ctx context.Context, spec imagespec.Service, p *proc, argv []string) error {
	env := serviceEnv(spec.Env)
	path, err := resolveExec(s.o.Root, argv[0], envPath(env))
	if err != nil {
		return err
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	dir := spec.WorkDir
	switch {
	case p.sandboxed:
		attr.Chroot = "/proc/" + strconv.Itoa(p.pid) + "/root"
		// Its own PID namespace keeps it from signalling host processes.
		attr.Cloneflags = syscall.CLONE_NEWPID
		if dir == "" {
			dir = "/"
		}
	case s.o.Root != "":
		path = filepath.Join(s.o.Root, path)
		dir = filepath.Join(s.o.Root, dir)
	}
	if spec.User != "" && os.Geteuid() == 0 {
		if attr.Credential, err = s.credential(spec.User); err != nil {
			return err
		}
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Dir: dir, SysProcAttr: attr}
	// exec.CommandContext is not used because it looks the program up on
	// the host; the context is wired by hand.
	start := cmd.Start
	if p.sandboxed {
		// The check joins the service's network, IPC and UTS namespaces
		// (its network may be the host's) and holds no more than it.
		c := launch.Confinement{PID: p.pid, Namespaces: p.sandbox != nil, Legacy: s.o.Unhardened}
		if p.sandbox != nil {
			c.Caps, _ = launch.CapNumbers(p.sandbox.Capabilities) // checked at spawn
		}
		start = func() error { return launch.StartConfined(cmd, c) }
	}
	// In its own group, the check must be kept from the orphan reaper.
	reaper.mu.Lock()
	err = start()
	if err == nil {
		reaper.tracked[cmd.Process.Pid] = true
	}
	reaper.mu.Unlock()
	if err != nil {
		return fmt.Errorf("starting check: %w", err)
	}
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		reaper.mu.Lock()
		delete(reaper.tracked, cmd.Process.Pid)
		reaper.mu.Unlock()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		signalGroup(cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return errors.New("check did not finish in time")
	}
}
