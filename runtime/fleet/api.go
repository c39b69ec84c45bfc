package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/un-distro/undistro/runtime/node"
)

// Extension returns the agent as a part of the node daemon: it runs
// beside the services and serves the fleet commands on the daemon's
// socket.
func (a *Agent) Extension() node.Extension { return extension{a} }

type extension struct{ a *Agent }

func (e extension) Run(ctx context.Context, n *node.Node) error { return e.a.Run(ctx, nodeHost{n}) }

// Register adds the fleet routes to the daemon's API.
func (e extension) Register(mux *http.ServeMux) {
	a := e.a
	mux.HandleFunc("GET /v1/fleet/members", func(w http.ResponseWriter, r *http.Request) {
		if !a.running(w) {
			return
		}
		writeJSON(w, http.StatusOK, a.Members(r.URL.Query().Get("all") == "1"))
	})
	mux.HandleFunc("POST /v1/fleet/query", func(w http.ResponseWriter, r *http.Request) {
		var q Question
		if !a.running(w) || !decode(w, r, &q) {
			return
		}
		ans, err := a.Query(r.Context(), q)
		reply(w, ans, err)
	})
	mux.HandleFunc("POST /v1/fleet/rollout", func(w http.ResponseWriter, r *http.Request) {
		var t Target
		if !a.running(w) || !decode(w, r, &t) {
			return
		}
		pub, err := a.Publish(r.Context(), t)
		reply(w, pub, err)
	})
	mux.HandleFunc("GET /v1/fleet/rollout", func(w http.ResponseWriter, r *http.Request) {
		if !a.running(w) {
			return
		}
		writeJSON(w, http.StatusOK, a.Rollout(r.URL.Query().Get("role")))
	})
	mux.HandleFunc("GET /v1/fleet/peers", func(w http.ResponseWriter, r *http.Request) {
		if !a.running(w) {
			return
		}
		ps, err := a.Peers(r.URL.Query().Get("name"))
		reply(w, ps, err)
	})
	mux.HandleFunc("POST /v1/fleet/forget", func(w http.ResponseWriter, r *http.Request) {
		var f struct {
			Name string `json:"name"`
		}
		if !a.running(w) || !decode(w, r, &f) {
			return
		}
		reply(w, struct{}{}, a.Forget(f.Name))
	})
	mux.HandleFunc("GET /v1/fleet/traffic", func(w http.ResponseWriter, r *http.Request) {
		if !a.running(w) {
			return
		}
		writeJSON(w, http.StatusOK, a.Traffic())
	})
}

// running answers 503 until the serf member exists.
func (a *Agent) running(w http.ResponseWriter) bool {
	select {
	case <-a.ready:
		return true
	default:
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "the fleet agent is starting; try again"})
		return false
	}
}

type apiError struct {
	Error string `json:"error"`
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "decoding request: " + err.Error()})
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrNoFleet: the daemon runs without --fleet.
var ErrNoFleet = errors.New("the node daemon is not in a fleet: start it with `undistro node run --fleet IP:PORT --fleet-key FILE`")

// Client speaks to the fleet agent of a node daemon over its socket.
type Client struct {
	socket string
	http   *http.Client
}

// Dial returns a client for the daemon on socket.
func Dial(socket string) *Client {
	return &Client{socket: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

// Close releases the client's connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://node"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("asking the node daemon at %s (is `undistro node run --fleet …` running?): %w", c.socket, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return json.NewDecoder(resp.Body).Decode(out)
	case http.StatusNotFound:
		return ErrNoFleet
	}
	var e apiError
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
		return fmt.Errorf("node daemon: %s", resp.Status)
	}
	return errors.New(e.Error)
}

// Members returns the fleet as the node sees it.
func (c *Client) Members(ctx context.Context, all bool) ([]Member, error) {
	var ms []Member
	p := "/v1/fleet/members"
	if all {
		p += "?all=1"
	}
	return ms, c.do(ctx, http.MethodGet, p, nil, &ms)
}

// Query asks the fleet q through the node.
func (c *Client) Query(ctx context.Context, q Question) (*Answers, error) {
	var a Answers
	return &a, c.do(ctx, http.MethodPost, "/v1/fleet/query", q, &a)
}

// Publish publishes a rollout through the node.
func (c *Client) Publish(ctx context.Context, t Target) (*Target, error) {
	var out Target
	return &out, c.do(ctx, http.MethodPost, "/v1/fleet/rollout", t, &out)
}

// Rollout returns role's rollout as the node sees it.
func (c *Client) Rollout(ctx context.Context, role string) (*RolloutStatus, error) {
	var rs RolloutStatus
	return &rs, c.do(ctx, http.MethodGet, "/v1/fleet/rollout?role="+url.QueryEscape(role), nil, &rs)
}

// Peers returns the providers of the node's relation name.
func (c *Client) Peers(ctx context.Context, name string) ([]Peer, error) {
	var ps []Peer
	return ps, c.do(ctx, http.MethodGet, "/v1/fleet/peers?name="+url.QueryEscape(name), nil, &ps)
}

// Forget drops the failed member name from the fleet (Agent.Forget).
func (c *Client) Forget(ctx context.Context, name string) error {
	var out struct{}
	return c.do(ctx, http.MethodPost, "/v1/fleet/forget", struct {
		Name string `json:"name"`
	}{name}, &out)
}

// Traffic returns the node's gossip byte counts.
func (c *Client) Traffic(ctx context.Context) (*Traffic, error) {
	var t Traffic
	return &t, c.do(ctx, http.MethodGet, "/v1/fleet/traffic", nil, &t)
}
