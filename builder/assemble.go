package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/un-distro/undistro/builder/image"
	"github.com/un-distro/undistro/builder/layer"
	"github.com/un-distro/undistro/builder/role"
	"github.com/un-distro/undistro/builder/source"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// assemble writes one image per role into the layout (and registry, rootfs).
func (b *runner) assemble(ctx context.Context, p *plan, ep *epochs, started time.Time) ([]Result, error) {
	rev, url := ep.commit()
	imgs := map[string]v1.Image{}
	metas := map[string]*imagespec.Image{}
	epochs := map[string]int64{}
	var results []Result
	// Nothing may have been built in this run, which creates CACHE/tmp.
	if err := os.MkdirAll(filepath.Join(b.cfg.cacheDir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(b.cfg.cacheDir, "tmp"), "assemble-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, r := range p.roles {
		units := p.images[r.Name]
		res := Result{Role: r.Name}
		meta := &imagespec.Image{Role: r.Name, Users: r.Users, Groups: r.Groups, Provides: r.Provides, Requires: r.Requires}
		var layers []image.Layer
		epoch := int64(0)
		var names []string
		for _, u := range units {
			e := b.entries[u.key]
			epoch = max(epoch, u.epoch)
			names = append(names, u.name)
			ann := "pkg:" + u.name + "@" + u.recipe.Version
			layers = append(layers, image.Layer{Path: b.pkgs.LayerPath(e), Info: e.Layer, Annotation: ann})
			meta.Packages = append(meta.Packages, imagespec.Package{
				Name: u.name, Version: u.recipe.Version, Revision: u.recipe.Revision, License: u.recipe.License, Supplier: u.recipe.SupplierOf(),
				Source: source.Location(u.recipe.Source), SourceSum: u.srcID, BuildKey: u.key,
				DiffID: e.Layer.DiffID, Files: e.Layer.Files,
			})
			meta.Privileged = append(meta.Privileged, u.recipe.Privileged...)
			if b.built[u.key] {
				res.Built = append(res.Built, u.name)
			} else {
				res.Cached = append(res.Cached, u.name)
			}
			if b.pulled[u.key] {
				res.Pulled = append(res.Pulled, u.name)
			}
		}
		svcs, err := r.Services(p.recipes, names)
		if err != nil {
			return nil, err
		}
		meta.Services = svcs
		fl, err := b.filesLayer(ctx, r, tmp, epoch, meta)
		if err != nil {
			return nil, err
		}
		if fl != nil {
			layers = append(layers, *fl)
		}
		labels := map[string]string{"org.opencontainers.image.title": r.Name}
		if rev != "" {
			labels["org.opencontainers.image.revision"] = rev
		}
		if url != "" {
			labels["org.opencontainers.image.source"] = url
		}
		img, err := image.Assemble(layers, image.Config{Role: r.Name, Epoch: epoch, Labels: labels, Meta: meta, Arch: runtime.GOARCH})
		if err != nil {
			return nil, fmt.Errorf("assembling role %s: %w", r.Name, err)
		}
		imgs[r.Name], metas[r.Name], epochs[r.Name] = img, meta, epoch
		if res.Digest, res.Size, res.Layers, err = describe(img, layers); err != nil {
			return nil, err
		}
		results = append(results, res)
	}
	var pub *publisher
	if b.cfg.signKey != "" {
		if pub, err = b.newPublisher(ctx, p, p.order, rev, url, started); err != nil {
			return nil, err
		}
	}
	b.say("writing %s", b.cfg.out)
	if err := image.WriteLayout(b.cfg.out, imgs); err != nil {
		return nil, fmt.Errorf("writing OCI layout %s: %w", b.cfg.out, err)
	}
	for i := range results {
		img := imgs[results[i].Role]
		meta, epoch := metas[results[i].Role], epochs[results[i].Role]
		if b.cfg.push != "" {
			ref := strings.TrimSuffix(b.cfg.push, "/") + "/" + results[i].Role + ":" + b.cfg.pushTag
			b.say("pushing %s", ref)
			if _, err := image.Push(ctx, ref, img); err != nil {
				return nil, fmt.Errorf("pushing %s: %w", ref, err)
			}
			results[i].Ref = ref
		}
		if b.cfg.rootfs != "" {
			dir := filepath.Join(b.cfg.rootfs, results[i].Role)
			b.say("exporting root filesystem to %s", dir)
			if err := image.ExportRootfs(ctx, img, dir); err != nil {
				return nil, fmt.Errorf("exporting rootfs of %s: %w", results[i].Role, err)
			}
		}
		if pub != nil {
			if err := b.publish(ctx, pub, &results[i], meta, epoch); err != nil {
				return nil, err
			}
		}
	}
	return results, nil
}

// filesLayer writes the role's config files, plus /etc/passwd and /etc/group
// for its declared users and groups, as one layer. nil when there are none.
func (b *runner) filesLayer(ctx context.Context, r *role.Role, tmp string, epoch int64, meta *imagespec.Image) (*image.Layer, error) {
	var files []layer.File
	roleFiles := map[string]role.File{}
	for _, f := range r.Files {
		files = append(files, layer.File{Path: f.Path, Source: f.Source, Mode: f.Mode, UID: f.UID, GID: f.GID})
		roleFiles[f.Path] = f
	}
	meta.Config = r.Config
	gen, err := accounts(tmp, r)
	if err != nil {
		return nil, err
	}
	files = append(files, gen...)
	if len(files) == 0 {
		return nil, nil
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, f := range files {
		sum, err := fileSHA256(f.Source)
		if err != nil {
			return nil, err
		}
		rf := roleFiles[f.Path] // zero for generated files (/etc/passwd, /etc/group)
		meta.Files = append(meta.Files, imagespec.File{Path: f.Path, Mode: uint32(f.Mode.Perm()), UID: f.UID, GID: f.GID, SHA256: sum,
			Source: rf.RepoPath, Template: rf.Template})
	}
	path := filepath.Join(tmp, "files-"+r.Name+".tar.gz")
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	info, err := layer.WriteFiles(ctx, files, out, layer.Options{Epoch: epoch})
	if err != nil {
		return nil, fmt.Errorf("writing files layer of role %s: %w", r.Name, err)
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	return &image.Layer{Path: path, Info: info, Annotation: "files:" + r.Name}, nil
}

func describe(img v1.Image, layers []image.Layer) (string, int64, []LayerResult, error) {
	d, err := img.Digest()
	if err != nil {
		return "", 0, nil, err
	}
	m, err := img.RawManifest()
	if err != nil {
		return "", 0, nil, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return "", 0, nil, err
	}
	size := int64(len(m) + len(cfg))
	var lr []LayerResult
	for _, l := range layers {
		size += l.Info.Size
		lr = append(lr, LayerResult{What: l.Annotation, Digest: l.Info.Digest, Size: l.Info.Size, Tar: l.Info.UncompressedSize})
	}
	return d.String(), size, lr, nil
}
