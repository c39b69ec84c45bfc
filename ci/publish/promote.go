package publish

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/ci/plan"
)

// MainTag is the tag that follows main: the newest published commit.
const MainTag = "main"

// Moved is one main tag moved.
type Moved struct {
	Role   string `json:"role"`
	Main   string `json:"main"`   // registry/ROLE:main
	Digest string `json:"digest"` // what it now names
}

// PromotePlan plans HEAD of repo against base and promotes the planned
// roles' images of HEAD (the last job of the distro workflow).
func PromotePlan(ctx context.Context, repo, base, registry string) ([]Moved, error) {
	p, err := plan.Compute(ctx, repo, base, "HEAD")
	if err != nil {
		return nil, err
	}
	return Promote(ctx, registry, p.Head, p.Roles)
}

// Promote moves registry/ROLE:main to the image of registry/ROLE:<commit>
// for every role, in order. It first
// resolves every role's commit tag, so a role that was not published
// (a failed matrix job) moves nothing at all.
func Promote(ctx context.Context, registry, commit string, roles []string) ([]Moved, error) {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	type move struct {
		tag  name.Tag
		desc *remote.Descriptor
	}
	var moves []move
	for _, r := range roles {
		src, err := name.NewTag(registry + "/" + r + ":" + commit)
		if err != nil {
			return nil, fmt.Errorf("promoting %s: %w", r, err)
		}
		desc, err := remote.Get(src, opts...)
		if err != nil {
			return nil, fmt.Errorf("promoting %s: %s was not published: %w (nothing moved to :%s)", r, src, err, MainTag)
		}
		moves = append(moves, move{tag: src.Context().Tag(MainTag), desc: desc})
	}
	moved := []Moved{}
	for i, m := range moves {
		if err := remote.Tag(m.tag, m.desc, opts...); err != nil {
			return moved, fmt.Errorf("moving %s to %s: %w", m.tag, m.desc.Digest, err)
		}
		moved = append(moved, Moved{Role: roles[i], Main: m.tag.String(), Digest: m.desc.Digest.String()})
	}
	return moved, nil
}
