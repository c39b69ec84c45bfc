package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// PullOption configures Pull.
type PullOption func(*pullOptions) error

type pullOptions struct {
	progress func(done, total int64)
	remote   []remote.Option
	fetch    LayerFetcher
}

// WithProgress calls fn as bytes are fetched, with the bytes done so far and
// the total still to fetch when the pull started (blobs already in the store
// are not counted). Default: no progress reports. fn must be quick.
func WithProgress(fn func(done, total int64)) PullOption {
	return func(o *pullOptions) error {
		if fn == nil {
			return errors.New("WithProgress: nil function")
		}
		o.progress = fn
		return nil
	}
}

// WithRemoteOptions passes options (authentication, transport, platform) to
// go-containerregistry's remote package for registry pulls, after the
// default: credentials from authn.DefaultKeychain (docker's config.json in
// $DOCKER_CONFIG or ~/.docker, and its credential helpers), anonymous where
// it has none.
func WithRemoteOptions(opts ...remote.Option) PullOption {
	return func(o *pullOptions) error {
		o.remote = append(o.remote, opts...)
		return nil
	}
}

// source finds the image ref names: "oci:PATH[:ROLE]" or a registry
// reference.
func source(ctx context.Context, ref string, o *pullOptions) (v1.Image, v1.Hash, error) {
	if rest, ok := strings.CutPrefix(ref, "oci:"); ok {
		return ociImage(rest)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("parsing reference %q: %w (want host[:port]/repo:tag, host/repo@sha256:…, or oci:PATH[:ROLE])", ref, err)
	}
	desc, err := remote.Get(r, append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, o.remote...)...)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("fetching %s: %w", ref, err)
	}
	img, err := desc.Image() // resolves an index to this platform
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading image %s: %w", ref, err)
	}
	want, err := img.Digest()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading image %s: %w", ref, err)
	}
	if d, ok := r.(name.Digest); ok && desc.MediaType.IsImage() && d.DigestStr() != want.String() {
		return nil, v1.Hash{}, fmt.Errorf("registry served %s for %s", want, ref)
	}
	return img, want, nil
}

// ociImage opens "PATH[:ROLE]". PATH wins when it is a directory as a whole,
// so a path with a colon and no role still works.
func ociImage(spec string) (v1.Image, v1.Hash, error) {
	path, role := imagespec.SplitLayoutRef(spec, isDir)
	p, err := layout.FromPath(path)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("opening OCI layout %s: %w", path, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading OCI layout %s: %w", path, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading OCI layout index %s: %w", path, err)
	}
	var found []v1.Descriptor
	var roles []string
	for _, d := range im.Manifests {
		roles = append(roles, d.Annotations[imagespec.RefNameAnnotation])
		if role == "" || d.Annotations[imagespec.RefNameAnnotation] == role {
			found = append(found, d)
		}
	}
	switch {
	case len(found) == 0 && role != "":
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s has no image %q (it has %q)", path, role, roles)
	case len(found) == 0:
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s holds no image", path)
	case len(found) > 1:
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s holds %d images %q: name one as oci:%s:ROLE", path, len(found), roles, path)
	}
	d := found[0]
	if d.MediaType != types.OCIManifestSchema1 && d.MediaType != types.DockerManifestSchema2 {
		return nil, v1.Hash{}, fmt.Errorf("OCI layout %s: %s is a %s, not an image manifest", path, d.Digest, d.MediaType)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading image %s from %s: %w", d.Digest, path, err)
	}
	return img, d.Digest, nil
}

// isDir reports whether path is a directory: how a layout reference whose
// path holds a colon is told from PATH:ROLE.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
