package layoutreg

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Handler serves the OCI layout at dir as a read-only registry: every
// repository name maps to the whole layout; tags are the ref.name
// annotations of index.json.
func Handler(dir string) http.Handler { return &handler{dir: dir} }

type handler struct{ dir string }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		regError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "an OCI layout is served read-only")
		return
	}
	p := r.URL.Path
	if p == "/v2/" || p == "/v2" {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		w.WriteHeader(http.StatusOK)
		return
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		regError(w, http.StatusNotFound, "NOT_FOUND", "not a registry path")
		return
	}
	if i := strings.LastIndex(rest, "/manifests/"); i > 0 {
		h.manifest(w, r, rest[i+len("/manifests/"):])
		return
	}
	if i := strings.LastIndex(rest, "/blobs/"); i > 0 {
		h.blob(w, r, rest[i+len("/blobs/"):])
		return
	}
	regError(w, http.StatusNotFound, "NOT_FOUND", "unsupported registry path")
}

func (h *handler) manifest(w http.ResponseWriter, r *http.Request, ref string) {
	d, err := lookup(h.dir, ref)
	if err != nil {
		regError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	if d == nil {
		regError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", fmt.Sprintf("no manifest %q in OCI layout %s", ref, h.dir))
		return
	}
	h.serveBlob(w, r, d.Digest.String(), string(d.MediaType), "MANIFEST_UNKNOWN")
}

func (h *handler) blob(w http.ResponseWriter, r *http.Request, dig string) {
	h.serveBlob(w, r, dig, "application/octet-stream", "BLOB_UNKNOWN")
}

func (h *handler) serveBlob(w http.ResponseWriter, r *http.Request, dig, contentType, unknown string) {
	if !digestRE.MatchString(dig) {
		regError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("invalid digest %q", dig))
		return
	}
	f, err := os.Open(blobPath(h.dir, dig))
	if err != nil {
		regError(w, http.StatusNotFound, unknown, fmt.Sprintf("blob %s not in OCI layout %s", dig, h.dir))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		regError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Docker-Content-Digest", dig)
	w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = io.Copy(w, f)
	}
}

// regError writes an OCI distribution error body.
func regError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

// mediaType defaults an empty manifest media type to the OCI manifest.
func mediaType(s string) types.MediaType {
	if s == "" {
		return types.OCIManifestSchema1
	}
	return types.MediaType(s)
}

// transport answers requests with the handler, without a socket.
type transport struct{ h http.Handler }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
