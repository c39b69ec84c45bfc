package image

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// Report is what `undistro image inspect` shows about an image.
type Report struct {
	Digest       string            `json:"digest"`
	MediaType    string            `json:"mediaType"`
	Role         string            `json:"role,omitempty"`
	OS           string            `json:"os"`
	Architecture string            `json:"architecture"`
	Created      time.Time         `json:"created"`
	Labels       map[string]string `json:"labels,omitempty"`
	// Size is the manifest, config and every compressed layer, in bytes:
	// what a pull with no shared layers transfers.
	Size     int64               `json:"size"`
	Layers   []LayerReport       `json:"layers"`
	Packages []imagespec.Package `json:"packages,omitempty"`
	Services []imagespec.Service `json:"services,omitempty"`
	Files    []imagespec.File    `json:"files,omitempty"`
	Users    []imagespec.User    `json:"users,omitempty"`
	Groups   []imagespec.Group   `json:"groups,omitempty"`
	Meta     *imagespec.Image    `json:"-"`
	Warnings []string            `json:"warnings,omitempty"`
	byDiffID map[string]*LayerReport
}

// LayerReport is one layer of a Report.
type LayerReport struct {
	Digest  string `json:"digest"`
	DiffID  string `json:"diffID"`
	Size    int64  `json:"size"`
	Holds   string `json:"holds,omitempty"` // the imagespec.LayerAnnotation value
	Package string `json:"package,omitempty"`
	Files   int    `json:"files,omitempty"` // files the owning package lists
}

// Inspect reads img's manifest and config (no layer content) and reports
// its packages, layers and their sizes, services, files and total size. An
// image without undistro metadata is reported with a warning, not an error.
func Inspect(img v1.Image) (*Report, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("inspecting image: reading manifest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("inspecting image: reading config: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("inspecting image: %w", err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("inspecting image: %w", err)
	}
	r := &Report{
		Digest:       digest.String(),
		MediaType:    string(m.MediaType),
		OS:           cf.OS,
		Architecture: cf.Architecture,
		Created:      cf.Created.UTC(),
		Labels:       cf.Config.Labels,
		Size:         int64(len(raw)) + m.Config.Size,
		byDiffID:     map[string]*LayerReport{},
	}
	if len(m.Layers) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("inspecting image %s: manifest has %d layers, config %d diffIDs", r.Digest, len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	r.Layers = make([]LayerReport, len(m.Layers))
	for i, l := range m.Layers {
		r.Layers[i] = LayerReport{
			Digest: l.Digest.String(),
			DiffID: cf.RootFS.DiffIDs[i].String(),
			Size:   l.Size,
			Holds:  l.Annotations[imagespec.LayerAnnotation],
		}
		r.Size += l.Size
		r.byDiffID[r.Layers[i].DiffID] = &r.Layers[i]
	}
	meta, err := imagespec.Decode(cf.Config.Labels)
	switch {
	case errors.Is(err, imagespec.ErrNoMetadata):
		r.Warnings = append(r.Warnings, err.Error())
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("inspecting image %s: %w", r.Digest, err)
	}
	r.Meta = meta
	r.Role = meta.Role
	r.Packages, r.Services, r.Files = meta.Packages, meta.Services, meta.Files
	r.Users, r.Groups = meta.Users, meta.Groups
	for _, p := range meta.Packages {
		lr := r.byDiffID[p.DiffID]
		if lr == nil {
			r.Warnings = append(r.Warnings, fmt.Sprintf("package %s names layer %s, which the image does not have", p.Name, p.DiffID))
			continue
		}
		lr.Package = p.Name
		lr.Files = len(p.Files)
	}
	return r, nil
}

// WriteText prints r for people.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	role := r.Role
	if role == "" {
		role = "-"
	}
	fmt.Fprintf(tw, "Image:\t%s\n", r.Digest)
	fmt.Fprintf(tw, "Role:\t%s\n", role)
	fmt.Fprintf(tw, "Platform:\t%s/%s\n", r.OS, r.Architecture)
	fmt.Fprintf(tw, "Created:\t%s\n", r.Created.Format(time.RFC3339))
	fmt.Fprintf(tw, "Size:\t%s (%d bytes, compressed)\n", humanSize(r.Size), r.Size)
	for _, k := range []string{SourceLabel, RevisionLabel} {
		if v := r.Labels[k]; v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	fmt.Fprintf(tw, "\nLAYER\tSIZE\tHOLDS\tFILES\n")
	for _, l := range r.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", shortDigest(l.Digest), humanSize(l.Size), dash(l.Holds), l.Files)
	}
	if len(r.Packages) > 0 {
		fmt.Fprintf(tw, "\nPACKAGE\tVERSION\tLICENSE\tSOURCE\n")
		for _, p := range r.Packages {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Version, dash(p.License), p.Source)
		}
	}
	if len(r.Services) > 0 {
		fmt.Fprintf(tw, "\nSERVICE\tEXEC\tRESTART\tUSER\tFILES\tASKS FOR\n")
		for _, s := range r.Services {
			// What the service may touch beyond the sandbox's defaults:
			// a privilege change shows here and in the image's diff.
			asks := strings.Join(s.Sandbox.Asks(), " ")
			if asks == "" {
				asks = "nothing (default sandbox)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, strings.Join(s.Exec, " "), s.Restart, dash(s.User), dash(strings.Join(s.Files, ",")), asks)
		}
	}
	if len(r.Files) > 0 {
		fmt.Fprintf(tw, "\nFILE\tMODE\tOWNER\n")
		for _, f := range r.Files {
			fmt.Fprintf(tw, "%s\t%04o\t%d:%d\n", f.Path, f.Mode, f.UID, f.GID)
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(tw, "\nwarning: %s\n", warn)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
