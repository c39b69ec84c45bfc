package peerreg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// Transport sends registry requests to peers: each GET or HEAD goes to
// the peers' endpoints in turn (starting with the next one after the last
// used, so load spreads) until one answers 200 or 206; the URL's host is
// replaced, its path kept. Bytes from a peer are checked by their reader
// (go-containerregistry checks every digest, runtime/policy every
// signature), so a peer without the content or with wrong content costs
// only a retry or a refusal, never a wrong image.
type Transport struct {
	// Peers returns the peer endpoints (host:port) to ask, best first.
	Peers func() []string
	// Base carries the requests (default http.DefaultTransport).
	Base http.RoundTripper

	next atomic.Uint32
}

// ErrNoPeers: no peer endpoint is known.
var ErrNoPeers = errors.New("no peers known: give --peers (or peers in the node config)")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return nil, fmt.Errorf("%s %s: peers serve read-only", req.Method, req.URL.Path)
	}
	if req.Body != nil && req.Body != http.NoBody {
		return nil, fmt.Errorf("%s %s: a request to peers has no body", req.Method, req.URL.Path)
	}
	var peers []string
	if t.Peers != nil {
		peers = t.Peers()
	}
	if len(peers) == 0 {
		return nil, ErrNoPeers
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	start := int(t.next.Add(1)-1) % len(peers)
	var errs []string
	var last *http.Response
	for i := range peers {
		peer := peers[(start+i)%len(peers)]
		r := req.Clone(req.Context())
		r.URL.Scheme, r.URL.Host, r.Host = "http", peer, peer
		r.Header.Del("Authorization") // the registry's credentials are not the peers' business
		resp, err := base.RoundTrip(r)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", peer, err))
			continue
		}
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent {
			if err := checkSmall(req, resp); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", peer, err))
				continue
			}
			if last != nil {
				last.Body.Close()
			}
			return resp, nil
		}
		errs = append(errs, fmt.Sprintf("%s: %s", peer, resp.Status))
		if last != nil {
			last.Body.Close()
		}
		// Keep the last answer (its body drained to a bound) so the caller
		// sees a registry error, a 404 being what "nobody has it" is.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		last = resp
	}
	if last != nil {
		last.Body.Close()
		body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": "UNKNOWN", "message": "no peer has it: " + strings.Join(errs, "; ")}}})
		return &http.Response{
			Status: last.Status, StatusCode: last.StatusCode, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Content-Type": {"application/json"}},
			Body:    io.NopCloser(bytes.NewReader(body)),
			Request: req,
		}, nil
	}
	return nil, fmt.Errorf("asking %d peer(s) for %s: %s", len(peers), req.URL.Path, strings.Join(errs, "; "))
}

// checkSmall verifies a whole small answer (a manifest or a blob of at most
// maxAttachment bytes asked for by digest) before it is passed on, so a
// peer that lies costs a retry with the next peer rather than a failed
// pull; larger blobs are checked by their reader as they stream.
func checkSmall(req *http.Request, resp *http.Response) error {
	pr, err := ParsePath(req.URL.Path)
	if req.Method != http.MethodGet || resp.StatusCode != http.StatusOK || err != nil || pr.Digest == "" || pr.Attachment != "" {
		return nil
	}
	if resp.ContentLength > maxAttachment || (resp.ContentLength < 0 && pr.Kind == Blob) {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAttachment+1))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", pr.Digest, err)
	}
	if len(b) > maxAttachment {
		return fmt.Errorf("%s: more than %d bytes", pr.Digest, maxAttachment)
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != pr.Digest {
		return fmt.Errorf("served content hashing to %s for %s", got, pr.Digest)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return nil
}
