package peerreg

import (
	"errors"
	"strings"
	"testing"
)

const (
	hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dig   = "sha256:" + hex64
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		want       Request
		err        string
	}{
		{name: "ping", path: "/v2/", want: Request{Kind: Ping}},
		{name: "ping without slash", path: "/v2", want: Request{Kind: Ping}},
		{name: "manifest", path: "/v2/undistro/web/manifests/" + dig, want: Request{Kind: Manifest, Repo: "undistro/web", Digest: dig}},
		{name: "blob", path: "/v2/a/blobs/" + dig, want: Request{Kind: Blob, Repo: "a", Digest: dig}},
		{name: "signature", path: "/v2/a/b/manifests/sha256-" + hex64 + ".sig", want: Request{Kind: Manifest, Repo: "a/b", Digest: dig, Attachment: "sig"}},
		{name: "attestation", path: "/v2/a/manifests/sha256-" + hex64 + ".att", want: Request{Kind: Manifest, Repo: "a", Digest: dig, Attachment: "att"}},
		{name: "repository named blobs", path: "/v2/x/blobs/y/manifests/" + dig, want: Request{Kind: Manifest, Repo: "x/blobs/y", Digest: dig}},
		{name: "tag", path: "/v2/a/manifests/latest", err: `manifest "latest": peers serve manifests by digest (sha256:HEX) or cosign tag (sha256-HEX.sig, .att) only; a tag needs the registry`},
		{name: "other attachment", path: "/v2/a/manifests/sha256-" + hex64 + ".sbom", err: "a tag needs the registry"},
		{name: "attachment tag as blob", path: "/v2/a/blobs/sha256-" + hex64 + ".sig", err: "want sha256:HEX"},
		{name: "upper-case digest", path: "/v2/a/blobs/sha256:" + strings.ToUpper(hex64), err: "want sha256:HEX"},
		{name: "short digest", path: "/v2/a/blobs/sha256:abc", err: "want sha256:HEX"},
		{name: "sha512", path: "/v2/a/blobs/sha512:" + hex64 + hex64, err: "want sha256:HEX"},
		{name: "upload", path: "/v2/a/blobs/uploads/", err: `blob "uploads/": want sha256:HEX`},
		{name: "catalog", path: "/v2/_catalog", err: "names no manifest or blob"},
		{name: "tags list", path: "/v2/a/tags/list", err: "names no manifest or blob"},
		{name: "no repository", path: "/v2//manifests/" + dig, err: "names no manifest or blob"},
		{name: "dot-dot", path: "/v2/../etc/manifests/" + dig, err: `invalid repository name "../etc"`},
		{name: "upper-case repository", path: "/v2/Web/manifests/" + dig, err: "invalid repository name"},
		{name: "empty component", path: "/v2/a//b/blobs/" + dig, err: "invalid repository name"},
		{name: "digest with suffix", path: "/v2/a/blobs/" + dig + "/x", err: "want sha256:HEX"},
		{name: "not v2", path: "/v1/a/blobs/" + dig, err: "does not start with /v2/"},
		{name: "empty", path: "", err: "does not start with /v2/"},
		{name: "long", path: "/v2/" + strings.Repeat("a/", 300) + "blobs/" + dig, err: "at most 512"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePath(tc.path)
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParsePath(%q) = %+v, %v; want an ErrBadPath containing %q", tc.path, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParsePath(%q) = %+v, %v; want %+v", tc.path, got, err, tc.want)
			}
		})
	}
}

// FuzzParsePath: whatever a peer sends, ParsePath either refuses it or
// returns a request that names only a well-formed digest and repository.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/a/manifests/" + dig, "/v2/a/blobs/" + dig, "/v2/a/manifests/sha256-" + hex64 + ".sig",
		"/v2/../blobs/" + dig, "/v2/a/blobs/uploads/", "/v2/a/manifests/latest", "/v2/_catalog", "//v2/a/blobs/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, err := ParsePath(p)
		if err != nil {
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("error %v does not wrap ErrBadPath", err)
			}
			return
		}
		switch r.Kind {
		case Ping:
			if r != (Request{Kind: Ping}) {
				t.Fatalf("ping with fields: %+v", r)
			}
		case Manifest, Blob:
			if !digestRE.MatchString(r.Digest) || !nameRE.MatchString(r.Repo) || strings.Contains(r.Repo, "..") {
				t.Fatalf("ParsePath(%q) = %+v: bad digest or repository", p, r)
			}
			if r.Attachment != "" && (r.Kind != Manifest || (r.Attachment != "sig" && r.Attachment != "att")) {
				t.Fatalf("ParsePath(%q) = %+v: bad attachment", p, r)
			}
		default:
			t.Fatalf("ParsePath(%q) = %+v: no kind", p, r)
		}
	})
}
