package peerreg

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/un-distro/undistro/internal/logctx"
)

// Content is what a node serves its peers: blobs it holds by digest, and
// the cosign attachment manifests of images it verified.
type Content interface {
	// Open returns a blob the node serves (a manifest, config, layer or
	// attachment blob of a verified image), or an error wrapping
	// fs.ErrNotExist when it serves none with that digest. The caller
	// closes it.
	Open(digest string) (File, error)
	// Attachment returns the digest of the manifest of the cosign
	// attachment kind ("sig" or "att") about image, or an error wrapping
	// fs.ErrNotExist.
	Attachment(image, kind string) (string, error)
}

// File is an open blob: http.ServeContent reads it with ranges.
type File interface {
	io.ReadSeekCloser
	Stat() (fs.FileInfo, error)
}

// maxManifest bounds a manifest read to find its media type.
const maxManifest = 4 << 20

// Handler serves c read-only (see the package documentation). It does not
// check the client's address: Listen's listener does.
func Handler(c Content) http.Handler { return &handler{c: c} }

type handler struct{ c Content }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		regError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "a peer serves read-only")
		return
	}
	req, err := ParsePath(r.URL.Path)
	if err != nil {
		regError(w, http.StatusNotFound, "NAME_UNKNOWN", err.Error())
		return
	}
	switch req.Kind {
	case Ping:
		w.WriteHeader(http.StatusOK)
	case Manifest:
		h.manifest(w, r, req)
	case Blob:
		h.serve(w, r, req.Digest, "application/octet-stream", "BLOB_UNKNOWN")
	}
}

func (h *handler) manifest(w http.ResponseWriter, r *http.Request, req Request) {
	d := req.Digest
	if req.Attachment != "" {
		var err error
		if d, err = h.c.Attachment(req.Digest, req.Attachment); err != nil {
			h.fail(w, r, err, "MANIFEST_UNKNOWN")
			return
		}
	}
	f, err := h.c.Open(d)
	if err != nil {
		h.fail(w, r, err, "MANIFEST_UNKNOWN")
		return
	}
	mt, err := mediaType(f)
	f.Close()
	if err != nil {
		h.fail(w, r, fmt.Errorf("blob %s: %w", d, err), "MANIFEST_INVALID")
		return
	}
	h.serve(w, r, d, mt, "MANIFEST_UNKNOWN")
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, digest, contentType, unknown string) {
	f, err := h.c.Open(digest)
	if err != nil {
		h.fail(w, r, err, unknown)
		return
	}
	defer f.Close()
	if _, err := f.Stat(); err != nil {
		h.fail(w, r, err, unknown)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Etag", strconv.Quote(digest))
	http.ServeContent(w, r, "", time.Time{}, f)
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error, unknown string) {
	if errors.Is(err, fs.ErrNotExist) {
		regError(w, http.StatusNotFound, unknown, "this peer serves no such content")
		return
	}
	logctx.From(r.Context()).Warn("serving a peer", "path", r.URL.Path, "err", err)
	regError(w, http.StatusInternalServerError, "UNKNOWN", "reading the store failed")
}

// mediaType reads a manifest's mediaType field (an OCI manifest when it
// has none, as the image spec allows).
func mediaType(f File) (string, error) {
	var m struct {
		MediaType string `json:"mediaType"`
	}
	b, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxManifest {
		return "", errors.New("manifest larger than 4 MiB")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("not a JSON manifest: %w", err)
	}
	if m.MediaType == "" {
		return "application/vnd.oci.image.manifest.v1+json", nil
	}
	return m.MediaType, nil
}

func regError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}
