package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/un-distro/undistro/builder/provenance"
	"github.com/un-distro/undistro/builder/sbom"
	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/builder/source"
	"github.com/un-distro/undistro/internal/logctx"
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
		if _, err := os.Stat(keyPath); err != nil {
			return fmt.Errorf("signing key %s: %w (create one with 'undistro key generate')", keyPath, err)
		}
		// One password prompt for every use of the key (images and
		// registry cache entries).
		if pass != nil {
			pass = sync.OnceValues(pass)
		}
		c.signKey, c.signPass = keyPath, pass
		return nil
	}
}

// publisher signs and attests built images; the key is decrypted once.
type publisher struct {
	signer *sign.Signer
	params provenance.Params
}

func (b *runner) newPublisher(ctx context.Context, p *plan, units []*unit, rev, url string, started time.Time) (*publisher, error) {
	s, err := sign.NewSigner(b.cfg.signKey, b.cfg.signPass)
	if err != nil {
		return nil, fmt.Errorf("loading signing key %s: %w", b.cfg.signKey, err)
	}
	if url == "" {
		// No remote: provenance names the local repository. (Image labels
		// never do: they must not depend on where the repository is.)
		url = "file://" + b.cfg.repo
	}
	params := provenance.Params{Repository: url, Commit: rev, BuilderVersion: Version, StartedOn: started.UTC()}
	for _, r := range p.roles {
		params.Roles = append(params.Roles, r.Name)
	}
	seen := map[string]bool{}
	for _, u := range units {
		if seen[u.name] {
			continue
		}
		seen[u.name] = true
		rel, err := filepath.Rel(b.cfg.repo, u.recipe.File)
		if err != nil {
			rel = u.recipe.File
		}
		body, err := os.ReadFile(u.recipe.File)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		params.Recipes = append(params.Recipes, provenance.Material{URI: rel, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}})
		digest := sourceDigest(u.srcID)
		if len(digest) == 0 {
			// Named by package and version only (debsrc): record the
			// digest of the verified, unpacked tree.
			f, err := b.src.Fetch(ctx, u.recipe)
			if err != nil {
				return nil, fmt.Errorf("%s: fetching source for provenance: %w", u.recipe.File, err)
			}
			sum, err := source.TreeDigest(ctx, f.Dir)
			if err != nil {
				return nil, err
			}
			digest = sourceDigest(sum)
		}
		params.Sources = append(params.Sources, provenance.Material{URI: sourceURI(u), Digest: digest})
	}
	sort.Slice(params.Recipes, func(i, j int) bool { return params.Recipes[i].URI < params.Recipes[j].URI })
	sort.Slice(params.Sources, func(i, j int) bool { return params.Sources[i].URI < params.Sources[j].URI })
	return &publisher{signer: s, params: params}, nil
}

// publish signs one built image and attaches its SBOM and provenance at
// every place it was written: the OCI layout, and the registry if pushed.
func (b *runner) publish(ctx context.Context, pub *publisher, res *Result, meta *imagespec.Image, epoch int64) error {
	refs := []string{"oci:" + b.cfg.out + ":" + res.Role}
	if res.Ref != "" {
		repo := res.Ref[:strings.LastIndex(res.Ref, ":")]
		refs = append(refs, repo+"@"+res.Digest)
	}
	doc, err := sbom.Generate(meta, refs[len(refs)-1], res.Digest, time.Unix(epoch, 0).UTC())
	if err != nil {
		return fmt.Errorf("generating SBOM of %s: %w", res.Role, err)
	}
	params := pub.params
	params.FinishedOn = time.Now().UTC()
	for _, ref := range refs {
		b.say("signing %s", ref)
		if _, err := pub.signer.Sign(ctx, ref); err != nil {
			return fmt.Errorf("signing %s: %w", ref, err)
		}
		if err := pub.signer.Attest(ctx, ref, sign.PredicateSPDX, doc); err != nil {
			return fmt.Errorf("attaching SBOM to %s: %w", ref, err)
		}
		if params.Commit == "" {
			logctx.From(ctx).WarnContext(ctx, "no provenance: the recipes are not in a git repository with a commit", "image", ref)
			continue
		}
		prov, err := provenance.Generate(ref, res.Digest, params)
		if err != nil {
			return fmt.Errorf("generating provenance of %s: %w", res.Role, err)
		}
		if err := pub.signer.Attest(ctx, ref, sign.PredicateSLSA1, prov); err != nil {
			return fmt.Errorf("attaching provenance to %s: %w", ref, err)
		}
	}
	return nil
}

func sourceURI(u *unit) string {
	s := u.recipe.Source
	switch s.Kind() {
	case "url":
		return s.URL
	case "git":
		return "git+" + s.Git + "@" + s.Commit
	case "gomod":
		mod, ver, _ := strings.Cut(s.GoMod, "@")
		return "pkg:golang/" + mod + "@" + ver
	case "deb":
		return "pkg:deb/debian/" + s.Deb + "@" + s.Version
	case "debsrc":
		return "pkg:deb/debian/" + s.DebSrc + "@" + s.Version + "?arch=source"
	}
	return "path:" + s.Path
}

// sourceDigest turns a source identity into an in-toto digest set: the
// checksum is its last field ("gomod:mod@v h1:…" → "h1:…"). Debian source
// packages are identified by name and version (apt verifies the .dsc
// against the signed archive index): empty here.
func sourceDigest(id string) map[string]string {
	f := strings.Fields(id)
	if len(f) == 0 {
		return map[string]string{}
	}
	d, err := provenance.DigestSet(f[len(f)-1])
	if err != nil {
		return map[string]string{}
	}
	return d
}
