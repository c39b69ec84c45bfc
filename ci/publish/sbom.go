package publish

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/un-distro/undistro/builder/image"
	"github.com/un-distro/undistro/builder/sbom"
	"github.com/un-distro/undistro/internal/atomicfile"
)

// writeSBOMs writes the SPDX SBOM of every published role to
// dir/ROLE.spdx.json, for a keyless run whose workflow attests them with
// cosign: the same document the builder attaches when it signs with a key
// (made from the image's metadata label, dated by its creation time).
func writeSBOMs(dir, layout string, roles []RoleResult) ([]RoleResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating SBOM directory: %w", err)
	}
	for i, r := range roles {
		img, err := image.Load("oci:" + layout + ":" + r.Role)
		if err != nil {
			return nil, fmt.Errorf("reading %s from %s: %w", r.Role, layout, err)
		}
		rep, err := image.Inspect(img)
		if err != nil {
			return nil, fmt.Errorf("inspecting %s: %w", r.Role, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the config of %s: %w", r.Role, err)
		}
		repo := r.Ref[:strings.LastIndex(r.Ref, ":")]
		doc, err := sbom.Generate(rep.Meta, repo+"@"+r.Digest, r.Digest, cf.Created.UTC())
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, r.Role+".spdx.json")
		if err := atomicfile.WriteFile(p, doc, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", p, err)
		}
		roles[i].SBOM = p
	}
	return roles, nil
}
