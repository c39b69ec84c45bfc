package peerreg

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Kind is what a request asks for.
type Kind int

// Kinds of requests.
const (
	// Ping is /v2/, the API version check.
	Ping Kind = iota + 1
	// Manifest is /v2/NAME/manifests/REF.
	Manifest
	// Blob is /v2/NAME/blobs/DIGEST.
	Blob
)

// Request is a parsed request path.
type Request struct {
	Kind Kind
	// Repo is NAME (empty for Ping).
	Repo string
	// Digest is the manifest or blob digest asked for; for an attachment
	// tag, the digest of the image the attachment is about.
	Digest string
	// Attachment is "sig" or "att" when a manifest is asked for by cosign's
	// tag sha256-HEX.sig or sha256-HEX.att.
	Attachment string
}

// ErrBadPath wraps every ParsePath error.
var ErrBadPath = errors.New("not a path this read-only peer endpoint serves")

// maxPath bounds a request path.
const maxPath = 512

var (
	// nameRE is the OCI distribution repository name grammar.
	nameRE   = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	attachRE = regexp.MustCompile(`^sha256-([a-f0-9]{64})\.(sig|att)$`)
)

// ParsePath parses the URL path of a request (already unescaped, without
// the query). Anything but the paths listed in the package documentation
// is an error wrapping ErrBadPath.
func ParsePath(p string) (Request, error) {
	if len(p) > maxPath {
		return Request{}, fmt.Errorf("%w: path of %d bytes (at most %d)", ErrBadPath, len(p), maxPath)
	}
	if p == "/v2/" || p == "/v2" {
		return Request{Kind: Ping}, nil
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return Request{}, fmt.Errorf("%w: %q does not start with /v2/", ErrBadPath, p)
	}
	for _, m := range []struct {
		marker string
		kind   Kind
	}{{"/manifests/", Manifest}, {"/blobs/", Blob}} {
		i := strings.LastIndex(rest, m.marker)
		if i <= 0 {
			continue
		}
		repo, ref := rest[:i], rest[i+len(m.marker):]
		if !nameRE.MatchString(repo) {
			return Request{}, fmt.Errorf("%w: invalid repository name %q", ErrBadPath, repo)
		}
		r := Request{Kind: m.kind, Repo: repo}
		switch {
		case digestRE.MatchString(ref):
			r.Digest = ref
		case m.kind == Manifest && attachRE.MatchString(ref):
			sm := attachRE.FindStringSubmatch(ref)
			r.Digest, r.Attachment = "sha256:"+sm[1], sm[2]
		case m.kind == Manifest:
			return Request{}, fmt.Errorf("%w: manifest %q: peers serve manifests by digest (sha256:HEX) or cosign tag (sha256-HEX.sig, .att) only; a tag needs the registry", ErrBadPath, ref)
		default:
			return Request{}, fmt.Errorf("%w: blob %q: want sha256:HEX", ErrBadPath, ref)
		}
		return r, nil
	}
	return Request{}, fmt.Errorf("%w: %q names no manifest or blob", ErrBadPath, p)
}
