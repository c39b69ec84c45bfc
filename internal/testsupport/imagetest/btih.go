package imagetest

import (
	"maps"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/un-distro/undistro/internal/btmeta"
)

// WithInfoHashes returns img with each layer descriptor annotated with its
// BitTorrent infohash (btmeta.Annotation), as the builder writes it; the
// config and the other annotations stay as they are.
func WithInfoHashes(t testing.TB, img v1.Image) v1.Image {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	out := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for i, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		in, err := btmeta.Compute(rc, m.Layers[i].Digest.String(), m.Layers[i].Size)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		anns := maps.Clone(m.Layers[i].Annotations)
		if anns == nil {
			anns = map[string]string{}
		}
		anns[btmeta.Annotation] = in.Hash().String()
		if out, err = mutate.Append(out, mutate.Addendum{Layer: l, Annotations: anns}); err != nil {
			t.Fatal(err)
		}
	}
	base, err := out.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS, cf.History = base.RootFS, base.History
	if out, err = mutate.ConfigFile(out, cf); err != nil {
		t.Fatal(err)
	}
	return out
}
