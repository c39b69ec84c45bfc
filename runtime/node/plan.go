package node

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// Plan is what a switch does to the services.
type Plan struct {
	From      string   `json:"from,omitempty"` // digest of the image switched from ("" on first switch)
	To        string   `json:"to"`             // digest of the image switched to
	Ref       string   `json:"ref,omitempty"`
	Start     []string `json:"start"`     // services only the new image has
	Stop      []string `json:"stop"`      // services only the old image has
	Restart   []string `json:"restart"`   // services whose definition, files or package changed
	Unchanged []string `json:"unchanged"` // services left running
	// Reasons says, per restarted service, what changed.
	Reasons map[string]string `json:"reasons,omitempty"`
	DryRun  bool              `json:"dryRun,omitempty"`
}

// Diff plans the switch from old (nil: nothing running) to new.
func Diff(old, new *imagespec.Image) *Plan {
	p := &Plan{Reasons: map[string]string{}}
	if old == nil {
		old = &imagespec.Image{}
	}
	for _, ns := range new.Services {
		prev := old.Service(ns.Name)
		if prev == nil {
			p.Start = append(p.Start, ns.Name)
			continue
		}
		if why := changed(old, new, prev, &ns); why != "" {
			p.Restart = append(p.Restart, ns.Name)
			p.Reasons[ns.Name] = why
			continue
		}
		p.Unchanged = append(p.Unchanged, ns.Name)
	}
	for _, prev := range old.Services {
		if new.Service(prev.Name) == nil {
			p.Stop = append(p.Stop, prev.Name)
		}
	}
	for _, l := range [][]string{p.Start, p.Stop, p.Restart, p.Unchanged} {
		slices.Sort(l)
	}
	return p
}

// changed says why service o (in old) and n (in new) differ, or "".
func changed(old, new *imagespec.Image, o, n *imagespec.Service) string {
	if !reflect.DeepEqual(normal(*o), normal(*n)) {
		return "definition changed"
	}
	for _, f := range n.Files {
		of, nf := file(old, f), file(new, f)
		if of == nil || nf == nil || of.SHA256 != nf.SHA256 || of.Mode != nf.Mode || of.UID != nf.UID || of.GID != nf.GID {
			return "file " + f + " changed"
		}
	}
	if n.Package != "" {
		op, np := pkg(old, n.Package), pkg(new, n.Package)
		if op == nil || np == nil || op.DiffID != np.DiffID {
			return "package " + n.Package + " changed"
		}
	}
	if n.User != "" {
		if !reflect.DeepEqual(user(old, n.User), user(new, n.User)) {
			return "user " + n.User + " changed"
		}
	}
	return ""
}

// normal clears the differences that do not matter (nil vs empty).
func normal(s imagespec.Service) imagespec.Service {
	if len(s.Env) == 0 {
		s.Env = nil
	}
	if len(s.After) == 0 {
		s.After = nil
	}
	if len(s.Files) == 0 {
		s.Files = nil
	}
	return s
}

func file(img *imagespec.Image, path string) *imagespec.File {
	for i := range img.Files {
		if img.Files[i].Path == path {
			return &img.Files[i]
		}
	}
	return nil
}

func pkg(img *imagespec.Image, name string) *imagespec.Package {
	for i := range img.Packages {
		if img.Packages[i].Name == name {
			return &img.Packages[i]
		}
	}
	return nil
}

func user(img *imagespec.Image, name string) *imagespec.User {
	for i := range img.Users {
		if img.Users[i].Name == name {
			return &img.Users[i]
		}
	}
	return nil
}

// Empty reports whether the plan touches no service.
func (p *Plan) Empty() bool {
	return len(p.Start)+len(p.Stop)+len(p.Restart) == 0
}

// Print writes the plan for people.
func (p *Plan) Print(w io.Writer) {
	verb := "switched"
	if p.DryRun {
		verb = "would switch"
	}
	from := p.From
	if from == "" {
		from = "(nothing)"
	}
	fmt.Fprintf(w, "%s %s -> %s\n", verb, short(from), short(p.To))
	line := func(what string, names []string, why map[string]string) {
		if len(names) == 0 {
			return
		}
		var parts []string
		for _, n := range names {
			if r := why[n]; r != "" {
				n += " (" + r + ")"
			}
			parts = append(parts, n)
		}
		fmt.Fprintf(w, "  %-9s %s\n", what+":", strings.Join(parts, ", "))
	}
	line("start", p.Start, nil)
	line("stop", p.Stop, nil)
	line("restart", p.Restart, p.Reasons)
	line("unchanged", p.Unchanged, nil)
}

// short abbreviates a digest for display.
func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
