package origin

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// MetricsPath is where the origin reports what it sent, in the Prometheus
// text format, to clients on loopback only (others get the registry's 404).
const MetricsPath = "/metrics"

// WithP2PUploadRate caps what the origin's BitTorrent seeder uploads, in
// bytes per second (default 0: no cap). The origin's link is the fleet's
// bottleneck: capped, it gives each piece to a few nodes and they, not the
// origin, give it to the rest.
func WithP2PUploadRate(bytesPerSecond int64) Option {
	return func(o *options) error {
		if bytesPerSecond < 0 {
			return fmt.Errorf("p2p upload rate %d: want bytes per second >= 0", bytesPerSecond)
		}
		o.p2pUp = bytesPerSecond
		return nil
	}
}

// Egress counts the bytes the origin sent: registry blob bodies (whole GETs
// and range requests alike, which is how BitTorrent web seeds fetch
// pieces), manifest bodies, and what other senders in the process report
// (the BitTorrent seeder's upload: AddSource). It is how a fleet's rollout
// is shown to cost the origin about one copy of an image.
type Egress struct {
	blobs, manifests, blobGets, rangeGets atomic.Int64

	mu      sync.Mutex
	sources map[string]func() int64
}

// EgressStats is a snapshot of Egress.
type EgressStats struct {
	// BlobBytes are blob body bytes sent; BlobGets the GETs answered with a
	// body (RangeGets of them partial, 206).
	BlobBytes, BlobGets, RangeGets int64
	// ManifestBytes are manifest body bytes sent.
	ManifestBytes int64
	// Sources are the bytes other senders report, by name.
	Sources map[string]int64
}

// Total is every byte counted.
func (s EgressStats) Total() int64 {
	t := s.BlobBytes + s.ManifestBytes
	for _, v := range s.Sources {
		t += v
	}
	return t
}

// AddSource counts fn's bytes under name (for example "bittorrent": the
// seeder's upload); fn must be safe to call at any time.
func (e *Egress) AddSource(name string, fn func() int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sources == nil {
		e.sources = map[string]func() int64{}
	}
	e.sources[name] = fn
}

// Stats returns the counts so far.
func (e *Egress) Stats() EgressStats {
	s := EgressStats{BlobBytes: e.blobs.Load(), BlobGets: e.blobGets.Load(), RangeGets: e.rangeGets.Load(),
		ManifestBytes: e.manifests.Load(), Sources: map[string]int64{}}
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, fn := range e.sources {
		s.Sources[name] = fn()
	}
	return s
}

// wrap counts what next sends and answers MetricsPath.
func (e *Egress) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == MetricsPath && r.Method == http.MethodGet && fromLoopback(r) {
			e.serveMetrics(w)
			return
		}
		var n *atomic.Int64
		switch {
		case r.Method != http.MethodGet:
		case strings.Contains(r.URL.Path, "/blobs/sha256:"):
			n = &e.blobs
		case strings.Contains(r.URL.Path, "/manifests/"):
			n = &e.manifests
		}
		if n == nil {
			next.ServeHTTP(w, r)
			return
		}
		cw := &countingWriter{ResponseWriter: w, n: n}
		next.ServeHTTP(cw, r)
		if n == &e.blobs && cw.wrote {
			e.blobGets.Add(1)
			if cw.status == http.StatusPartialContent {
				e.rangeGets.Add(1)
			}
		}
	})
}

func (e *Egress) serveMetrics(w http.ResponseWriter) {
	s := e.Stats()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# HELP undistro_origin_sent_bytes_total Bytes of response bodies and uploads the origin sent, by kind.")
	fmt.Fprintln(w, "# TYPE undistro_origin_sent_bytes_total counter")
	fmt.Fprintf(w, "undistro_origin_sent_bytes_total{kind=\"blob\"} %d\n", s.BlobBytes)
	fmt.Fprintf(w, "undistro_origin_sent_bytes_total{kind=\"manifest\"} %d\n", s.ManifestBytes)
	names := make([]string, 0, len(s.Sources))
	for name := range s.Sources {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(w, "undistro_origin_sent_bytes_total{kind=%q} %d\n", name, s.Sources[name])
	}
	fmt.Fprintln(w, "# HELP undistro_origin_blob_gets_total Blob GETs answered with a body, by whether they were range requests.")
	fmt.Fprintln(w, "# TYPE undistro_origin_blob_gets_total counter")
	fmt.Fprintf(w, "undistro_origin_blob_gets_total{range=\"false\"} %d\n", s.BlobGets-s.RangeGets)
	fmt.Fprintf(w, "undistro_origin_blob_gets_total{range=\"true\"} %d\n", s.RangeGets)
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// countingWriter counts body bytes written.
type countingWriter struct {
	http.ResponseWriter
	n      *atomic.Int64
	status int
	wrote  bool
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	if n > 0 && c.status < 300 {
		c.n.Add(int64(n))
		c.wrote = true
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush passes flushes on.
func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
