package image

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push uploads img to the registry reference ref (e.g.
// "127.0.0.1:5000/undistro/web:latest"; plain HTTP is used for localhost
// and private addresses) and returns the manifest digest, "sha256:…".
// Blobs the registry already has are not uploaded again. Credentials come
// from the Docker config keychain (DOCKER_CONFIG, ~/.docker/config.json,
// credential helpers) as with docker, crane and skopeo; opts may override.
func Push(ctx context.Context, ref string, img v1.Image, opts ...remote.Option) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("parsing push reference %q: %w: use REGISTRY/REPOSITORY[:TAG]", ref, err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.Write(r, img, opts...); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	return d.String(), nil
}
