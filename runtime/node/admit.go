package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/policy"
	"github.com/un-distro/undistro/runtime/store"
	"github.com/un-distro/undistro/runtime/trust"
)

// Admit is what a pull or switch accepts beyond the node's trust policy.
// The zero value accepts only images signed by a trusted key, of the role
// asked for, and (on switch) not older than the current image.
type Admit struct {
	// InsecureAllowUnsigned runs an image without checking its signature.
	// The node records it, and status shows it, for that image.
	InsecureAllowUnsigned bool `json:"insecureAllowUnsigned,omitempty"`
	// AllowDowngrade switches to an image built from older commits than
	// the current one.
	AllowDowngrade bool `json:"allowDowngrade,omitempty"`
	// Role is the role the image must be. Default: the role the reference
	// names (oci:PATH:ROLE, or the last element of a registry repository,
	// as `undistro build --push PREFIX` names it), else the current
	// image's role.
	Role string `json:"role,omitempty"`
	// Digest, when set, is the digest the image must have: a reference
	// that resolves to anything else is refused (ErrOtherDigest), so a
	// tag moved after a fleet rollout was published cannot slip in.
	Digest string `json:"digest,omitempty"`
}

// Admission records why the node accepted an image.
type Admission struct {
	Digest string    `json:"digest"`
	Ref    string    `json:"ref"`
	Time   time.Time `json:"time"`
	// Unsigned: admitted with InsecureAllowUnsigned, no signature checked.
	Unsigned bool `json:"unsigned,omitempty"`
	// KeyIDs are the trusted keys whose signatures verified.
	KeyIDs []string `json:"keyIDs,omitempty"`
	// Downgrade: admitted with AllowDowngrade though older than the image
	// it replaced.
	Downgrade bool `json:"downgrade,omitempty"`
}

// Verified reports whether a's image was admitted on a verified signature:
// the rule for what a node shares with its peers (BitTorrent swarms, the
// peer endpoint). An image admitted with --insecure-allow-unsigned is
// fetched from its registry only and never served.
func (a *Admission) Verified() bool {
	return a != nil && !a.Unsigned && len(a.KeyIDs) > 0
}

// Errors of admission; each refusal wraps one.
var (
	// ErrUnverified: the node trusts no key and the image was not
	// explicitly allowed to run unsigned.
	ErrUnverified = errors.New("node requires signed images")
	// ErrWrongRole: the image's role is not the one asked for.
	ErrWrongRole = errors.New("image is another role")
	// ErrDowngrade: the image is older than the current one.
	ErrDowngrade = errors.New("image is older than the current one")
	// ErrOtherDigest: the reference resolves to another digest than
	// Admit.Digest.
	ErrOtherDigest = errors.New("reference resolves to another digest than the one asked for")
)

// admit decides whether src, resolved from ref, may be pulled (and, with
// isSwitch, switched to). It runs before any layer is fetched.
// ro are the remote options that reached the image (peers, when its
// registry could not serve it).
func (n *Node) admit(ctx context.Context, src *store.Source, o Admit, isSwitch bool, ro ...remote.Option) (*Admission, error) {
	ref := src.Ref
	if o.Digest != "" && src.Digest != o.Digest {
		return nil, fmt.Errorf("refusing %s: %w: it is %s, not %s", ref, ErrOtherDigest, src.Digest, o.Digest)
	}
	adm := &Admission{Digest: src.Digest, Ref: ref, Time: time.Now().UTC(), Unsigned: o.InsecureAllowUnsigned}
	if !o.InsecureAllowUnsigned {
		keys, err := trust.Load(n.cfg.Root) // read afresh: a running daemon sees `trust add` at once
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("refusing %s: %w, and this node trusts no signing key: add the signer's public key with `undistro node trust add KEY.pub`, or pass --insecure-allow-unsigned to run it unsigned (recorded in `node status`)", ref, ErrUnverified)
		}
		p := &policy.Policy{Keys: keys, RequireSBOM: true, Remote: ro}
		res, err := p.Verify(ctx, ref, src.Digest)
		var pe *policy.Error
		if errors.As(err, &pe) {
			return nil, err // "refusing image REF (DIGEST): why"
		}
		if err != nil {
			return nil, fmt.Errorf("refusing %s: %w", ref, err)
		}
		for _, s := range res.Signatures {
			adm.KeyIDs = append(adm.KeyIDs, s.KeyID)
		}
		n.keepAttachments(ctx, ref, src.Digest, ro)
	}
	cur, err := n.current()
	if err != nil {
		return nil, err
	}
	want, why := o.Role, "asked for with --role"
	if want == "" {
		want, why = roleOf(ref), "named by the reference"
	}
	if want == "" && cur != nil && cur.Meta != nil {
		want, why = cur.Meta.Role, "the node runs now"
	}
	if want != "" && src.Meta.Role != want {
		return nil, fmt.Errorf("refusing %s: %w: it is %q, not %q (the role %s); pass --role %s if that is what this node should run", ref, ErrWrongRole, src.Meta.Role, want, why, src.Meta.Role)
	}
	if isSwitch && cur != nil && cur.Digest != src.Digest && cur.Config != nil {
		was, is := cur.Config.Created.Time, src.Config.Created.Time
		if is.Before(was) {
			if !o.AllowDowngrade {
				return nil, fmt.Errorf("refusing %s: %w: it was built from commits of %s, the current image %s from commits of %s: pass --allow-downgrade to switch to it anyway, or use `undistro node rollback` to go back to the previous image",
					ref, ErrDowngrade, is.UTC().Format(time.RFC3339), short(cur.Digest), was.UTC().Format(time.RFC3339))
			}
			adm.Downgrade = true
		}
	}
	return adm, nil
}

// roleOf returns the role a reference names: ROLE of oci:PATH:ROLE, or the
// last path element of a registry repository; "" when it names none.
func roleOf(ref string) string {
	if rest, ok := strings.CutPrefix(ref, imagespec.LayoutPrefix); ok {
		if strings.Contains(rest, "@sha256:") {
			return ""
		}
		_, role := imagespec.SplitLayoutRef(rest, isDir)
		return role
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	repo := r.Context().RepositoryStr()
	return repo[strings.LastIndexByte(repo, '/')+1:]
}

// record keeps adm in node.json (replacing an earlier admission of the same
// digest) and drops admissions of images no longer in the store.
func (n *Node) record(adm *Admission) error {
	return n.update(func(st *state) {
		if st.Admitted == nil {
			st.Admitted = map[string]*Admission{}
		}
		st.Admitted[adm.Digest] = adm
		for d := range st.Admitted {
			if _, err := n.st.Image(d); errors.Is(err, store.ErrNotFound) {
				delete(st.Admitted, d)
			}
		}
	})
}

// isDir reports whether path is a directory: how a layout reference whose
// path holds a colon is told from PATH:ROLE.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
