package origin

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// startUpload opens a blob upload session and returns its absolute URL.
func startUpload(t *testing.T, srv *Server, repo string) string {
	t.Helper()
	resp, body := do(t, http.MethodPost, srv.URL()+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("starting an upload: %d %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(srv.URL())
	return base.ResolveReference(loc).String()
}

// patch sends body as one PATCH of the upload at loc.
func patch(loc string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPatch, loc, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// TestSlowUploaderDoesNotBlockOthers: while one client trickles a blob
// body, another pushes a whole image; then the slow upload completes.
func TestSlowUploaderDoesNotBlockOthers(t *testing.T) {
	srv, err := New(logCtx(t.Context()), t.TempDir(), WithAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	// Know when the registry is reading the slow body, not just sent it.
	reading := make(chan struct{})
	var once sync.Once
	inner := srv.srv.Handler
	srv.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			r.Body = readNotifier{r.Body, func() { once.Do(func() { close(reading) }) }}
		}
		inner.ServeHTTP(w, r)
	})
	serve(t, srv)
	loc := startUpload(t, srv, "undistro/slow")
	pr, pw := io.Pipe()
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := patch(loc, pr)
		done <- result{resp, err}
	}()
	chunk := strings.Repeat("a", 4096)
	if _, err := io.WriteString(pw, chunk); err != nil {
		t.Fatal(err)
	}
	<-reading // the engine's upload handler holds the first bytes and waits for more

	img := randomImage(t)
	if err := remote.Write(ref(t, host(srv)+"/undistro/fast:latest"), img); err != nil {
		t.Fatalf("push beside a slow upload: %v", err)
	}
	select {
	case r := <-done:
		t.Fatalf("the slow upload ended before its body did: %v %v", r.resp, r.err)
	default:
	}

	if _, err := io.WriteString(pw, chunk); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.err != nil || r.resp.StatusCode != http.StatusAccepted {
		t.Fatalf("slow PATCH: %v %v", r.resp, r.err)
	}
	sum := sha256.Sum256([]byte(chunk + chunk))
	dgst := fmt.Sprintf("sha256:%x", sum)
	next, _ := url.Parse(r.resp.Header.Get("Location"))
	base, _ := url.Parse(srv.URL())
	u := base.ResolveReference(next)
	q := u.Query()
	q.Set("digest", dgst)
	u.RawQuery = q.Encode()
	if resp, body := do(t, http.MethodPut, u.String(), "", nil); resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") == "" {
		t.Fatalf("completing the slow upload: %d %s (Location %q)", resp.StatusCode, body, resp.Header.Get("Location"))
	}
	if resp, _ := do(t, http.MethodHead, srv.URL()+"/v2/undistro/slow/blobs/"+dgst, "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD of the slowly uploaded blob: %d", resp.StatusCode)
	}
}

// readNotifier calls read after each successful Read.
type readNotifier struct {
	io.ReadCloser
	read func()
}

func (r readNotifier) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.read()
	}
	return n, err
}

// TestStalledBodyIsDropped: a client that stops sending mid-body is cut
// off (WithBodyIdleTimeout) and the registry keeps serving.
func TestStalledBodyIsDropped(t *testing.T) {
	srv, _ := start(t, t.TempDir(), WithBodyIdleTimeout(200*time.Millisecond))
	loc := startUpload(t, srv, "undistro/stall")
	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan string, 1)
	go func() {
		resp, err := patch(loc, pr)
		if err != nil {
			done <- err.Error()
			return
		}
		done <- resp.Status
	}()
	if _, err := io.WriteString(pw, "partial"); err != nil {
		t.Fatal(err)
	}
	// The body never ends: only the server's idle deadline can end this.
	got := <-done
	if strings.HasPrefix(got, "2") {
		t.Fatalf("stalled upload answered %s", got)
	}
	t.Logf("stalled upload ended: %s", got)
	if err := remote.Write(ref(t, host(srv)+"/undistro/after:latest"), randomImage(t)); err != nil {
		t.Fatalf("push after a stalled upload: %v", err)
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestAbandonedUploadsDoNotGrowMemory: uploads started, fed and never
// completed go to storage, not to the heap.
func TestAbandonedUploadsDoNotGrowMemory(t *testing.T) {
	data := t.TempDir()
	srv, _ := start(t, data)
	const n, size = 4, 16 << 20
	// Warm up: one complete push so the engine's lazily built state exists.
	if err := remote.Write(ref(t, host(srv)+"/undistro/warm:latest"), randomImage(t)); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		loc := startUpload(t, srv, "undistro/abandoned")
		resp, err := patch(loc, io.LimitReader(zeros{}, size))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("PATCH: %v %v", resp, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap before %d KiB, after %d abandoned uploads of %d MiB: %d KiB (growth %d KiB)",
		before.HeapAlloc>>10, n, size>>20, after.HeapAlloc>>10, growth>>10)
	if growth > size {
		t.Fatalf("heap grew %d MiB over %d MiB of abandoned uploads: upload bodies are held in memory", growth>>20, n*size>>20)
	}
	var onDisk int64
	_ = filepath.Walk(filepath.Join(data, storageDir), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(p, "_uploads") && fi.Mode().IsRegular() {
			onDisk += fi.Size()
		}
		return nil
	})
	if onDisk < n*size {
		t.Fatalf("abandoned uploads hold %d bytes on disk, want >= %d (where did they go?)", onDisk, n*size)
	}
}
