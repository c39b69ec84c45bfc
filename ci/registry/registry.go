package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// record is one manifest PUT kept on disk, replayed at start.
type record struct {
	Seq         int64  `json:"seq"`
	Repo        string `json:"repo"`
	Ref         string `json:"ref"`
	ContentType string `json:"contentType"`
	Body        []byte `json:"body"`
}

// Handler is a registry whose blobs and manifests persist under a directory.
type Handler struct {
	inner http.Handler
	dir   string
	mu    sync.Mutex
}

// New opens (or creates) a registry persisted under dir and replays the
// manifests stored there. Requests are logged to logger (nil: silent).
func New(dir string, logger *log.Logger) (*Handler, error) {
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	for _, d := range []string{"blobs", "manifests"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating registry data dir: %w", err)
		}
	}
	h := &Handler{dir: dir, inner: ggcr.New(ggcr.Logger(logger),
		ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(filepath.Join(dir, "blobs"))))}
	if err := h.replay(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Handler) manifestPath(repo, ref string) string {
	sum := sha256.Sum256([]byte(repo + "\x00" + ref))
	return filepath.Join(h.dir, "manifests", hex.EncodeToString(sum[:])+".json")
}

// parseManifestPath splits /v2/REPO/manifests/REF.
func parseManifestPath(p string) (repo, ref string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/manifests/")
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len("/manifests/"):], true
}

// ServeHTTP serves the registry protocol, journaling manifest changes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	repo, ref, isManifest := parseManifestPath(r.URL.Path)
	if !isManifest || (r.Method != http.MethodPut && r.Method != http.MethodDelete) {
		h.inner.ServeHTTP(w, r)
		return
	}
	var body []byte
	if r.Method == http.MethodPut {
		b, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if err != nil {
			http.Error(w, "reading manifest: "+err.Error(), http.StatusBadRequest)
			return
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	rec := httptest.NewRecorder()
	h.inner.ServeHTTP(rec, r)
	if rec.Code/100 == 2 {
		var err error
		if r.Method == http.MethodPut {
			err = h.save(record{Seq: time.Now().UnixNano(), Repo: repo, Ref: ref, ContentType: r.Header.Get("Content-Type"), Body: body})
		} else {
			err = os.Remove(h.manifestPath(repo, ref))
			if os.IsNotExist(err) {
				err = nil
			}
		}
		if err != nil {
			http.Error(w, "persisting manifest: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// save writes rec atomically: temp file, fsync, rename.
func (h *Handler) save(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	dst := h.manifestPath(rec.Repo, rec.Ref)
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dst)
}

// replay re-PUTs the journaled manifests in the order they were written.
func (h *Handler) replay() error {
	paths, err := filepath.Glob(filepath.Join(h.dir, "manifests", "*.json"))
	if err != nil {
		return err
	}
	var recs []record
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: corrupt manifest record (%v): delete it and push again", p, err)
		}
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })
	for _, r := range recs {
		req := httptest.NewRequest(http.MethodPut, "/v2/"+r.Repo+"/manifests/"+r.Ref, bytes.NewReader(r.Body))
		req.Header.Set("Content-Type", r.ContentType)
		rec := httptest.NewRecorder()
		h.inner.ServeHTTP(rec, req)
		if rec.Code/100 != 2 {
			return fmt.Errorf("restoring manifest %s:%s: registry answered %d: %s", r.Repo, r.Ref, rec.Code, rec.Body.String())
		}
	}
	return nil
}
