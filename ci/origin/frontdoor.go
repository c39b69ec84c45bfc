package origin

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/distribution/reference"
)

// anchoredName is the repository name grammar the engine routes by.
var anchoredName = regexp.MustCompile(`^` + reference.NameRegexp.String() + `$`)

// routeMarkers end the repository name in a /v2/NAME/... path.
var routeMarkers = []string{"/manifests/", "/blobs/", "/tags/list", "/referrers/"}

// frontDoor refuses requests for repositories whose name the OCI grammar
// does not allow (400 NAME_INVALID, before the engine sees them, so no
// such name ever reaches storage) and bounds how long a request body may
// stall.
func frontDoor(next http.Handler, bodyIdle time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := repoName(r.URL.Path); ok && !anchoredName.MatchString(name) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
				"code":    "NAME_INVALID",
				"message": "invalid repository name: want lowercase path components [a-z0-9] separated by '/', '.', '_', '__' or '-'",
				"detail":  map[string]string{"name": name},
			}}})
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: bodyIdle}
		}
		next.ServeHTTP(w, r)
	})
}

// repoName extracts NAME from /v2/NAME/{manifests,blobs,tags,referrers}/...
// It reports false for paths that name no repository (/v2/, /v2/_catalog).
// When several splits are possible it prefers one giving a valid name, as
// the engine's router would.
func repoName(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", false
	}
	var found string
	for _, m := range routeMarkers {
		for i := strings.Index(rest, m); i >= 0; {
			name := rest[:i]
			if anchoredName.MatchString(name) {
				return name, true
			}
			if found == "" {
				found = name
			}
			j := strings.Index(rest[i+1:], m)
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	return found, found != ""
}

// idleBody extends the connection's read deadline before each read, so a
// client that stops sending mid-body is cut off after idle instead of
// holding its connection (and upload) forever, while a slow but moving
// upload of any size goes through.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	return b.ReadCloser.Read(p)
}
