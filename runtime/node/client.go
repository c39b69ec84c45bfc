package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/un-distro/undistro/runtime/store"
)

// API is what the node commands call: a *Node acting on the store
// directly, or a *Client speaking to the daemon.
type API interface {
	Pull(ctx context.Context, ref string, o PullOptions) (*store.Image, error)
	Switch(ctx context.Context, ref string, o SwitchOptions) (*Plan, error)
	Rollback(ctx context.Context) error
	Confirm(ctx context.Context) (*Trial, error)
	Status(ctx context.Context) (*Status, error)
	Logs(ctx context.Context, service string, follow bool, w io.Writer) error
	GC(ctx context.Context, keep int) ([]string, error)
	Reconfigure(ctx context.Context) (*Plan, error)
}

var (
	_ API = (*Node)(nil)
	_ API = (*Client)(nil)
)

// Client speaks to a node daemon over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// Dial returns a Client for the daemon at socket if one answers there.
func Dial(ctx context.Context, socket string) (*Client, error) {
	c := &Client{socket: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.do(pctx, http.MethodGet, "/v1/status", nil, nil); err != nil {
		return nil, fmt.Errorf("dialing node daemon at %s: %w", socket, err)
	}
	return c, nil
}

// Connect returns the daemon's Client when a daemon answers on cfg's
// socket, else a Node acting on the store directly. Through the daemon,
// the daemon's verification policy applies.
func Connect(ctx context.Context, cfg Config) (API, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if c, err := Dial(ctx, cfg.Socket); err == nil {
		return c, nil
	}
	return Open(ctx, cfg)
}

// remoteError is an error the daemon returned; it matches the sentinel it
// wrapped there.
type remoteError struct {
	msg  string
	kind string
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Is(target error) bool {
	s, ok := sentinels[e.kind]
	return ok && s == target
}

// do sends in (JSON, when not nil) and decodes the reply into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		out = new(json.RawMessage)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the daemon's reply to %s: %w", path, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://node"+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e errorResponse
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
			return nil, fmt.Errorf("node daemon: %s", resp.Status)
		}
		return nil, &remoteError{msg: e.Error, kind: e.Kind}
	}
	return resp, nil
}

// Pull asks the daemon to pull ref. Progress is not reported through the
// daemon; o.Progress is ignored.
func (c *Client) Pull(ctx context.Context, ref string, o PullOptions) (*store.Image, error) {
	var img store.Image
	if err := c.do(ctx, http.MethodPost, "/v1/pull", pullRequest{Ref: ref, Admit: o.Admit}, &img); err != nil {
		return nil, err
	}
	return &img, nil
}

// Switch asks the daemon to switch to ref.
func (c *Client) Switch(ctx context.Context, ref string, o SwitchOptions) (*Plan, error) {
	var p Plan
	if err := c.do(ctx, http.MethodPost, "/v1/switch", switchRequest{Ref: ref, SwitchOptions: o}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Rollback asks the daemon to roll back.
func (c *Client) Rollback(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/rollback", struct{}{}, nil)
}

// Confirm asks the daemon to keep the switch on trial.
func (c *Client) Confirm(ctx context.Context) (*Trial, error) {
	var t Trial
	if err := c.do(ctx, http.MethodPost, "/v1/confirm", struct{}{}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Status asks the daemon for the node's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	if err := c.do(ctx, http.MethodGet, "/v1/status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// GC asks the daemon to collect garbage.
func (c *Client) GC(ctx context.Context, keep int) ([]string, error) {
	var r gcResponse
	if err := c.do(ctx, http.MethodPost, "/v1/gc", gcRequest{Keep: keep}, &r); err != nil {
		return nil, err
	}
	return r.Removed, nil
}

// Logs streams service's log from the daemon.
func (c *Client) Logs(ctx context.Context, service string, follow bool, w io.Writer) error {
	q := url.Values{"service": {service}}
	if follow {
		q.Set("follow", "1")
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/logs?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Reconfigure asks the daemon to re-render the current image's templates.
func (c *Client) Reconfigure(ctx context.Context) (*Plan, error) {
	var p Plan
	if err := c.do(ctx, http.MethodPost, "/v1/reconfigure", struct{}{}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
