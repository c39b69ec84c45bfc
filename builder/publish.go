package builder

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/un-distro/undistro/builder/sbom"
	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// WithSigning signs every image written (in the OCI layout and, with
// WithPush, in the registry) with the cosign key at keyPath, and attaches
// an SPDX SBOM and a SLSA provenance attestation to it. pass supplies the
// key's password. Default: nothing is signed.
func WithSigning(keyPath string, pass sign.PassFunc) Option {
	return func(c *config) error {
		if keyPath == "" {
			return fmt.Errorf("signing key path is empty: pass --sign-key PATH")
		}
		c.signKey, c.signPass = keyPath, pass
		return nil
	}
}

// publish signs and attests one built image at every place it was written.
func (b *runner) publish(ctx context.Context, res *Result, meta *imagespec.Image, epoch int64, prov []byte) error {
	refs := []string{"oci:" + b.cfg.out + ":" + res.Role}
	if res.Ref != "" {
		repo := res.Ref[:strings.LastIndex(res.Ref, ":")]
		refs = append(refs, repo+"@"+res.Digest)
	}
	doc, err := sbom.Generate(meta, refs[len(refs)-1], res.Digest, time.Unix(epoch, 0).UTC())
	if err != nil {
		return fmt.Errorf("generating SBOM of %s: %w", res.Role, err)
	}
	for _, ref := range refs {
		b.say("signing %s", ref)
		if _, err := sign.Sign(ctx, ref, b.cfg.signKey, b.cfg.signPass); err != nil {
			return fmt.Errorf("signing %s: %w", ref, err)
		}
		if err := sign.Attest(ctx, ref, b.cfg.signKey, b.cfg.signPass, sign.PredicateSPDX, doc); err != nil {
			return fmt.Errorf("attaching SBOM to %s: %w", ref, err)
		}
		if prov != nil {
			if err := sign.Attest(ctx, ref, b.cfg.signKey, b.cfg.signPass, sign.PredicateSLSA1, prov); err != nil {
				return fmt.Errorf("attaching provenance to %s: %w", ref, err)
			}
		}
	}
	return nil
}
