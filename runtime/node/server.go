package node

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/un-distro/undistro/runtime/etcmerge"
	"github.com/un-distro/undistro/runtime/policy"
	"github.com/un-distro/undistro/runtime/store"
)

// Wire types of the daemon's JSON-over-HTTP API.
type (
	pullRequest struct {
		Ref string `json:"ref"`
		Admit
	}
	switchRequest struct {
		Ref string `json:"ref"`
		SwitchOptions
	}
	gcRequest struct {
		Keep int `json:"keep"`
	}
	gcResponse struct {
		Removed []string `json:"removed"`
	}
	errorResponse struct {
		Error string `json:"error"`
		// Kind names the sentinel the error wraps, so the client's error
		// matches errors.Is: "rolledBack", "unverified", "noPrevious", ...
		Kind string `json:"kind,omitempty"`
		Plan *Plan  `json:"plan,omitempty"`
	}
)

// sentinels maps error kinds on the wire to the errors they stand for.
var sentinels = map[string]error{
	"rolledBack":  ErrRolledBack,
	"unverified":  ErrUnverified,
	"wrongRole":   ErrWrongRole,
	"downgrade":   ErrDowngrade,
	"otherDigest": ErrOtherDigest,
	"locked":      store.ErrLocked,
	// Refusals by the trust policy.
	"unsigned":        policy.ErrUnsigned,
	"badSignature":    policy.ErrBadSignature,
	"digestMismatch":  policy.ErrDigestMismatch,
	"wrongRepository": policy.ErrWrongRepository,
	"noSBOM":          policy.ErrNoSBOM,
	"noPrevious":      store.ErrNoPrevious,
	// Refusals of the /etc merge.
	"template":     ErrTemplate,
	"etcConflict":  etcmerge.ErrConflict,
	"noTrial":      ErrNoTrial,
	"trialExpired": ErrTrialExpired,
}

// handler serves the node's operations.
func (n *Node) handler() http.Handler {
	mux := http.NewServeMux()
	for _, e := range n.cfg.Extensions {
		e.Register(mux)
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := n.Status(r.Context())
		reply(w, st, err, nil)
	})
	mux.HandleFunc("POST /v1/pull", func(w http.ResponseWriter, r *http.Request) {
		defer trimMemory() // what the operation paged in, the idle daemon does not need
		var req pullRequest
		if !decode(w, r, &req) {
			return
		}
		img, err := n.Pull(r.Context(), req.Ref, PullOptions{Admit: req.Admit})
		reply(w, img, err, nil)
	})
	mux.HandleFunc("POST /v1/switch", func(w http.ResponseWriter, r *http.Request) {
		defer trimMemory() // what the operation paged in, the idle daemon does not need
		var req switchRequest
		if !decode(w, r, &req) {
			return
		}
		plan, err := n.Switch(r.Context(), req.Ref, req.SwitchOptions)
		reply(w, plan, err, plan)
	})
	mux.HandleFunc("POST /v1/rollback", func(w http.ResponseWriter, r *http.Request) {
		defer trimMemory() // what the operation paged in, the idle daemon does not need
		reply(w, struct{}{}, n.Rollback(r.Context()), nil)
	})
	mux.HandleFunc("POST /v1/confirm", func(w http.ResponseWriter, r *http.Request) {
		t, err := n.Confirm(r.Context())
		reply(w, t, err, nil)
	})
	mux.HandleFunc("POST /v1/gc", func(w http.ResponseWriter, r *http.Request) {
		defer trimMemory() // what the operation paged in, the idle daemon does not need
		var req gcRequest
		if !decode(w, r, &req) {
			return
		}
		removed, err := n.GC(r.Context(), req.Keep)
		reply(w, gcResponse{Removed: removed}, err, nil)
	})
	mux.HandleFunc("POST /v1/reconfigure", func(w http.ResponseWriter, r *http.Request) {
		plan, err := n.Reconfigure(r.Context())
		reply(w, plan, err, plan)
	})
	mux.HandleFunc("GET /v1/logs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fw := &flushWriter{w: w}
		err := n.Logs(r.Context(), q.Get("service"), q.Get("follow") == "1", fw)
		if err != nil && !fw.wrote {
			reply(w, nil, err, nil)
		}
	})
	n.p2pRoutes(mux)
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, errorResponse{Error: "decoding request: " + err.Error()})
		return false
	}
	return true
}

// reply writes v, or err with its kind (and plan, for a failed switch).
func reply(w http.ResponseWriter, v any, err error, plan *Plan) {
	if err == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	resp := errorResponse{Error: err.Error(), Plan: plan}
	for kind, s := range sentinels {
		if errors.Is(err, s) {
			resp.Kind = kind
		}
	}
	writeJSON(w, http.StatusUnprocessableEntity, resp)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// flushWriter flushes each write through to the client (log following).
type flushWriter struct {
	w     http.ResponseWriter
	wrote bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.wrote = true
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
