package p2p

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServesWhileDownloading: two nodes fetch from a slow seeder at the
// same moment, each knowing only the seeder (they find each other by PEX);
// one serves the other pieces it has before it has them all.
func TestServesWhileDownloading(t *testing.T) {
	b := newBlob(t, 2<<20, 10)
	seeder := newClient(t, "127.0.0.101", func(c *Config) { c.UploadRate = 512 << 10 })
	seed(t, seeder, newStore(t), b)
	var wg sync.WaitGroup
	sharedEarly := make([]atomic.Int64, 2)
	for i, ip := range []string{"127.0.0.102", "127.0.0.103"} {
		c := newClient(t, ip, func(c *Config) { c.Peers = []string{seeder.Addr().String()} })
		st := newStore(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Fetch(t.Context(), b.layer(), st.commit(b.digest), func(s LayerStats) {
				if s.Done < s.Size && s.Uploaded > sharedEarly[i].Load() {
					sharedEarly[i].Store(s.Uploaded)
				}
			})
			if err != nil {
				t.Error(err)
				return
			}
			st.check(t, b)
		}()
	}
	wg.Wait()
	if sharedEarly[0].Load() == 0 && sharedEarly[1].Load() == 0 {
		t.Error("neither node uploaded anything before it had the whole blob")
	}
}

// TestOriginRequestCap: with MaxOriginRequests 1, three web-seeded
// fetches at once never have more than one request at the origin.
func TestOriginRequestCap(t *testing.T) {
	var inFlight, peak atomic.Int32
	blobs := map[string][]byte{}
	var mu sync.Mutex
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond) // hold the slot so overlaps would show
		mu.Lock()
		data := blobs[r.URL.Path]
		mu.Unlock()
		http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(origin.Close)
	c := newClient(t, "127.0.0.104", func(c *Config) {
		c.MaxOriginRequests = 1
		c.WebSeedDelay = 50 * time.Millisecond
	})
	var wg sync.WaitGroup
	for i := range 3 {
		b := newBlob(t, 200<<10, uint32(20+2*i))
		mu.Lock()
		blobs["/"+b.digest] = b.data
		mu.Unlock()
		l := b.layer()
		l.WebSeed = origin.URL + "/" + b.digest
		st := newStore(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Fetch(t.Context(), l, st.commit(b.digest), nil); err != nil {
				t.Error(err)
				return
			}
			st.check(t, b)
		}()
	}
	wg.Wait()
	if p := peak.Load(); p != 1 {
		t.Errorf("origin saw %d concurrent requests, the cap is 1", p)
	}
}
