package image

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/un-distro/undistro/builder/layer"
	"github.com/un-distro/undistro/internal/btmeta"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// Well-known OCI annotation and label keys.
const (
	// RefNameAnnotation names an image in an OCI layout's index.
	RefNameAnnotation = imagespec.RefNameAnnotation
	// SourceLabel is the source repository URL.
	SourceLabel = "org.opencontainers.image.source"
	// RevisionLabel is the source revision (git commit).
	RevisionLabel = "org.opencontainers.image.revision"
)

// Layer is a layer blob on disk and what builder/layer said about it.
type Layer struct {
	// Path is the gzip blob.
	Path string
	// Info is its digests and sizes, as layer.Write returned them.
	Info layer.Info
	// Annotation is the imagespec.LayerAnnotation value: "pkg:NAME@VERSION"
	// or "files:ROLE".
	Annotation string
}

// Config is everything in an image besides its layers.
type Config struct {
	// Role names the image.
	Role string
	// Epoch is SOURCE_DATE_EPOCH: the config's creation time and every
	// history entry's.
	Epoch int64
	// Labels are added to the image config, e.g. SourceLabel and
	// RevisionLabel.
	Labels map[string]string
	// Meta is the runtime metadata, stored under the imagespec.Label label.
	// Nil: the image carries none.
	Meta *imagespec.Image
	// Env is the image config's environment ("KEY=VALUE").
	Env []string
	// Arch is the GOARCH the image is for. Empty: runtime.GOARCH.
	Arch string
}

// Assemble builds an OCI image from layers, in order, and cfg. Digests and
// sizes come from each Layer.Info; each layer file is read once, to compute
// its BitTorrent infohash (annotation btmeta.Annotation), which also checks
// the file against its digest and size.
func Assemble(layers []Layer, cfg Config) (v1.Image, error) {
	if cfg.Role == "" {
		return nil, errors.New("assembling image: the role name is empty")
	}
	if cfg.Epoch < 0 {
		return nil, fmt.Errorf("assembling image %s: epoch %d is negative", cfg.Role, cfg.Epoch)
	}
	created := v1.Time{Time: time.Unix(cfg.Epoch, 0).UTC()}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)

	diffIDs := map[string]bool{}
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		fl, err := newFileLayer(l)
		if err != nil {
			return nil, fmt.Errorf("assembling image %s: %w", cfg.Role, err)
		}
		diffIDs[l.Info.DiffID] = true
		add := mutate.Addendum{
			Layer:     fl,
			MediaType: types.OCILayer,
			History:   v1.History{Created: created, CreatedBy: "undistro build " + l.Annotation},
		}
		// The infohash goes on every layer descriptor so the manifest's
		// signature covers which swarms a node may join (internal/btmeta).
		add.Annotations = map[string]string{btmeta.Annotation: fl.btih.String()}
		if l.Annotation != "" {
			add.Annotations[imagespec.LayerAnnotation] = l.Annotation
		}
		adds = append(adds, add)
	}
	img := base
	if len(adds) > 0 {
		var err error
		if img, err = mutate.Append(base, adds...); err != nil {
			return nil, fmt.Errorf("assembling image %s: %w", cfg.Role, err)
		}
	}

	labels := maps.Clone(cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if cfg.Meta != nil {
		for _, p := range cfg.Meta.Packages {
			if !diffIDs[p.DiffID] {
				return nil, fmt.Errorf("assembling image %s: metadata gives package %s the layer %s, which is not among the image's layers", cfg.Role, p.Name, p.DiffID)
			}
		}
		meta := *cfg.Meta
		if meta.Role == "" {
			meta.Role = cfg.Role
		}
		v, err := imagespec.Encode(&meta)
		if err != nil {
			return nil, fmt.Errorf("assembling image %s: %w", cfg.Role, err)
		}
		labels[imagespec.Label] = v
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("assembling image %s: %w", cfg.Role, err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = cfg.Arch
	if cf.Architecture == "" {
		cf.Architecture = runtime.GOARCH
	}
	cf.Created = created
	cf.Config.Env = cfg.Env
	if len(labels) > 0 {
		cf.Config.Labels = labels
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("assembling image %s: %w", cfg.Role, err)
	}
	return img, nil
}

// fileLayer is a v1.Layer backed by a gzip blob whose digests are known.
type fileLayer struct {
	path           string
	size           int64
	digest, diffID v1.Hash
	btih           btmeta.InfoHash
}

var _ v1.Layer = (*fileLayer)(nil)

func newFileLayer(l Layer) (*fileLayer, error) {
	digest, err := v1.NewHash(l.Info.Digest)
	if err != nil {
		return nil, fmt.Errorf("layer %s: digest %q: %w", l.Path, l.Info.Digest, err)
	}
	diffID, err := v1.NewHash(l.Info.DiffID)
	if err != nil {
		return nil, fmt.Errorf("layer %s: diffID %q: %w", l.Path, l.Info.DiffID, err)
	}
	fi, err := os.Stat(l.Path)
	if err != nil {
		return nil, fmt.Errorf("reading layer: %w", err)
	}
	if fi.Size() != l.Info.Size {
		return nil, fmt.Errorf("layer %s is %d bytes, its info says %d: the blob changed since it was written; clear the build cache", l.Path, fi.Size(), l.Info.Size)
	}
	f, err := os.Open(l.Path)
	if err != nil {
		return nil, fmt.Errorf("reading layer: %w", err)
	}
	defer f.Close()
	info, err := btmeta.Compute(bufio.NewReaderSize(f, 1<<20), l.Info.Digest, l.Info.Size)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w; clear the build cache", l.Path, err)
	}
	return &fileLayer{path: l.Path, size: l.Info.Size, digest: digest, diffID: diffID, btih: info.Hash()}, nil
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading layer %s: %w", l.path, err)
	}
	return &gzipFile{Reader: zr, f: f}, nil
}

type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g *gzipFile) Close() error {
	err := g.Reader.Close()
	if ferr := g.f.Close(); err == nil {
		err = ferr
	}
	return err
}

// FileLayer is the layer blob at path, described by info (as layer.Write
// returned it), as a v1.Layer that reads the file as is: pushing it sends
// exactly those bytes. Its size must match info.
func FileLayer(path string, info layer.Info) (v1.Layer, error) {
	return newFileLayer(Layer{Path: path, Info: info})
}
