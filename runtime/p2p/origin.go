package p2p

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// originTransport carries every request to an origin (web-seed ranges and
// the no-info fallback): through the transport registered for the URL's
// host (registry credentials), at most max at once per client, counting
// the body bytes read.
type originTransport struct {
	def   http.RoundTripper
	sem   chan struct{}
	bytes atomic.Int64

	mu     sync.Mutex
	routes map[string]http.RoundTripper
}

func newOriginTransport(def http.RoundTripper, max int) *originTransport {
	return &originTransport{def: def, sem: make(chan struct{}, max), routes: map[string]http.RoundTripper{}}
}

// route sends requests for host through rt from now on.
func (o *originTransport) route(host string, rt http.RoundTripper) {
	if rt == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.routes[host] = rt
}

func (o *originTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return nil, fmt.Errorf("origin transport: refusing %s %s: only reads go to an origin", req.Method, req.URL.Redacted())
	}
	o.mu.Lock()
	rt := o.routes[req.URL.Host]
	o.mu.Unlock()
	if rt == nil {
		rt = o.def
	}
	select {
	case o.sem <- struct{}{}:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		<-o.sem
		return nil, err
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, o: o}
	return resp, nil
}

type countingBody struct {
	io.ReadCloser
	o    *originTransport
	once sync.Once
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.o.bytes.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { <-b.o.sem })
	return err
}
