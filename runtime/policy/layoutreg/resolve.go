package layoutreg

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Prefix marks a reference to an OCI image layout: oci:PATH[:ROLE] or
// oci:PATH@sha256:HEX.
const Prefix = "oci:"

// Host is the registry name under which a layout is served in process. It
// is in the reserved .invalid domain, so it never reaches the network.
const Host = "oci-layout.undistro.invalid"

// Repository is the repository name of every image of a served layout.
const Repository = "layout"

// RefNameAnnotation is the index.json annotation naming an image in a layout.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

var digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// Target is a resolved image reference: a registry reference, or a layout
// served through an in-process transport.
type Target struct {
	// Ref names the image; for a layout its registry is Host.
	Ref name.Reference
	// Layout is the layout directory, or "" for a registry image.
	Layout string
	// Remote are the go-containerregistry options that reach Ref.
	Remote []remote.Option
}

// Resolve parses ref. A reference starting with oci: is a layout
// (oci:PATH:ROLE, oci:PATH@sha256:HEX, or oci:PATH when the layout holds a
// single image); anything else is a registry reference, reached with the
// default keychain. nameOpts apply to registry references only (for example
// name.Insecure).
func Resolve(ref string, nameOpts ...name.Option) (*Target, error) {
	if !strings.HasPrefix(ref, Prefix) {
		r, err := name.ParseReference(ref, nameOpts...)
		if err != nil {
			return nil, fmt.Errorf("parsing image reference %q: %w (want REGISTRY/REPO:TAG, REGISTRY/REPO@sha256:HEX or oci:PATH:ROLE)", ref, err)
		}
		return &Target{Ref: r, Remote: []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}}, nil
	}
	dir, tag, dig := splitLayoutRef(strings.TrimPrefix(ref, Prefix))
	if dir == "" {
		return nil, fmt.Errorf("parsing image reference %q: empty layout path (want oci:PATH:ROLE)", ref)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return nil, fmt.Errorf("opening OCI layout %s: %w (build one with `undistro build ROLE --out %s`)", dir, err, dir)
	}
	repo := Host + "/" + Repository
	var (
		r   name.Reference
		err error
	)
	switch {
	case dig != "":
		r, err = name.NewDigest(repo + "@" + dig)
	case tag != "":
		r, err = name.NewTag(repo + ":" + tag)
	default:
		var d v1.Hash
		d, err = onlyImage(dir)
		if err == nil {
			r, err = name.NewDigest(repo + "@" + d.String())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	return &Target{Ref: r, Layout: dir, Remote: []remote.Option{remote.WithTransport(Transport(dir))}}, nil
}

// splitLayoutRef splits PATH[:ROLE] or PATH@sha256:HEX.
func splitLayoutRef(s string) (dir, tag, dig string) {
	if i := strings.LastIndex(s, "@sha256:"); i >= 0 {
		return s[:i], "", s[i+1:]
	}
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.ContainsAny(s[i+1:], `/\`) {
		return s[:i], s[i+1:], ""
	}
	return s, "", ""
}

// String renders t for messages: the layout reference as the user wrote it
// where there is one.
func (t *Target) String() string {
	if t.Layout == "" {
		return t.Ref.String()
	}
	return Prefix + t.Layout + sep(t.Ref) + t.Ref.Identifier()
}

func sep(r name.Reference) string {
	if _, ok := r.(name.Digest); ok {
		return "@"
	}
	return ":"
}

// readIndex reads dir/index.json.
func readIndex(dir string) (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout index: %w", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", filepath.Join(dir, "index.json"), err)
	}
	return &idx, nil
}

// isAttachment reports whether a ref.name names a cosign signature,
// attestation or SBOM image rather than an image to run.
func isAttachment(refName string) bool {
	return strings.HasPrefix(refName, "sha256-") &&
		(strings.HasSuffix(refName, ".sig") || strings.HasSuffix(refName, ".att") || strings.HasSuffix(refName, ".sbom"))
}

// onlyImage returns the digest of the single runnable image in dir.
func onlyImage(dir string) (v1.Hash, error) {
	idx, err := readIndex(dir)
	if err != nil {
		return v1.Hash{}, err
	}
	var found []v1.Descriptor
	for _, d := range idx.Manifests {
		if !isAttachment(d.Annotations[RefNameAnnotation]) {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 1:
		return found[0].Digest, nil
	case 0:
		return v1.Hash{}, errors.New("the layout holds no image")
	}
	var names []string
	for _, d := range found {
		names = append(names, d.Annotations[RefNameAnnotation])
	}
	return v1.Hash{}, fmt.Errorf("the layout holds %d images (%s): name one as oci:PATH:ROLE", len(found), strings.Join(names, ", "))
}

// lookup finds the descriptor for a tag (ref.name) or digest in dir. The
// last entry with a matching name wins.
func lookup(dir, ref string) (*v1.Descriptor, error) {
	idx, err := readIndex(dir)
	if err != nil {
		return nil, err
	}
	var found *v1.Descriptor
	for i := range idx.Manifests {
		d := &idx.Manifests[i]
		if d.Digest.String() == ref || d.Annotations[RefNameAnnotation] == ref {
			found = d
		}
	}
	if found == nil && digestRE.MatchString(ref) {
		// A manifest not listed in index.json (e.g. a child of an index)
		// is still served by digest if its blob is there.
		b, err := os.ReadFile(blobPath(dir, ref))
		if err != nil {
			return nil, nil
		}
		var m struct {
			MediaType string `json:"mediaType"`
		}
		_ = json.Unmarshal(b, &m)
		h, _ := v1.NewHash(ref)
		return &v1.Descriptor{MediaType: mediaType(m.MediaType), Digest: h, Size: int64(len(b))}, nil
	}
	return found, nil
}

func blobPath(dir, dig string) string {
	return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(dig, "sha256:"))
}

// Transport returns an http.RoundTripper that answers registry requests from
// the layout at dir, in process.
func Transport(dir string) http.RoundTripper { return &transport{h: Handler(dir)} }
