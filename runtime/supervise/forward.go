package supervise

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// forwarder publishes ports of a service in a private network namespace:
// it listens on the host addresses the service declares and copies each
// connection to the same port on the service's loopback, dialled from
// inside its namespace. It lives as long as one process of the service.
type forwarder struct {
	lns []net.Listener
	log *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// listenPublished opens the host listeners of spec's published ports, or
// returns nil when it publishes none (or runs unsandboxed, where the
// service's ports are the host's). A port that cannot be bound fails the
// start.
func (s *Supervisor) listenPublished(spec imagespec.Service) (*forwarder, error) {
	sb := spec.Sandbox
	if len(sb.Publish) == 0 || !s.o.Chroot || s.o.Unhardened {
		return nil, nil
	}
	if sb.NetworkOrDefault() != imagespec.NetworkPrivate {
		return nil, fmt.Errorf("service %q: publishes %v but its network is %q: only a private network publishes ports", spec.Name, sb.Publish, sb.Network)
	}
	f := &forwarder{conns: map[net.Conn]struct{}{}, log: s.log}
	for _, addr := range sb.Publish {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("service %q: publishing %s: %w", spec.Name, addr, err)
		}
		f.lns = append(f.lns, ln)
	}
	return f, nil
}

// serve accepts on every listener and forwards to p until close.
func (f *forwarder) serve(p *proc) {
	dial := dialer(p)
	for _, ln := range f.lns {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		target := net.JoinHostPort("127.0.0.1", port)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return // closed
				}
				if !f.track(c) {
					c.Close()
					return
				}
				f.wg.Add(1)
				go func() {
					defer f.wg.Done()
					defer f.untrack(c)
					f.pipe(c, dial, target)
				}()
			}
		}()
	}
}

// pipe copies c to and from a connection to target inside the service's
// namespace, each direction half-closed when its source ends.
func (f *forwarder) pipe(c net.Conn, dial func(context.Context, string, string) (net.Conn, error), target string) {
	defer c.Close()
	up, err := dial(context.Background(), "tcp", target)
	if err != nil {
		f.log.Debug("forwarding a published port", "to", target, "err", err)
		return
	}
	if !f.track(up) {
		up.Close()
		return
	}
	defer f.untrack(up)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, c)
		closeWrite(up)
		close(done)
	}()
	_, _ = io.Copy(c, up)
	closeWrite(c)
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

func (f *forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *forwarder) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// close stops listening, cuts every forwarded connection and waits for
// the forwarding goroutines.
func (f *forwarder) close() {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	for _, ln := range f.lns {
		ln.Close()
	}
	f.wg.Wait()
}
