package node

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/un-distro/undistro/runtime/etcmerge"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/store"
)

// Plan is what a switch does to the image root and the services; it is
// what `node switch --dry-run --json` prints. Fields are only ever added.
type Plan struct {
	From      string   `json:"from,omitempty"` // digest of the image switched from ("" on first switch)
	To        string   `json:"to"`             // digest of the image switched to
	Ref       string   `json:"ref,omitempty"`
	Start     []string `json:"start"`     // services only the new image has
	Stop      []string `json:"stop"`      // services only the old image has
	Restart   []string `json:"restart"`   // services whose definition, files or packages changed
	Reload    []string `json:"reload"`    // services told to reread their config (only their files changed, they declare reload)
	Unchanged []string `json:"unchanged"` // services left running
	// Reasons says, per restarted or reloaded service, what changed.
	Reasons map[string]string `json:"reasons,omitempty"`
	// Files are the role's config files the switch adds, changes or
	// removes, sorted by path.
	Files []FileChange `json:"files,omitempty"`
	// Packages are the packages whose layer the switch adds, changes or
	// removes, sorted by name.
	Packages []PackageChange `json:"packages,omitempty"`
	// Etc is the merge of the image's /etc into the node's writable one,
	// a decision per file it adds, changes or removes, or that was edited
	// on the node (LocalEdit), sorted by path (runtime/etcmerge).
	Etc []etcmerge.Decision `json:"etc,omitempty"`
	// Root says how the new image root was made (not in a dry run).
	Root *store.Switched `json:"root,omitempty"`
	// Trial is set for a switch made with --try: confirm it in time.
	Trial  *Trial `json:"trial,omitempty"`
	DryRun bool   `json:"dryRun,omitempty"`
}

// Changes of a file or package in a Plan.
const (
	ChangeAdd    = "add"
	ChangeModify = "change"
	ChangeRemove = "remove"
)

// FileChange is one config file a switch writes or removes. Decisions
// about a locally edited copy (the writable /etc merge) are added as
// further fields.
type FileChange struct {
	Path   string `json:"path"`
	Change string `json:"change"` // ChangeAdd, ChangeModify or ChangeRemove
	// Services are the services of the new image (of the old one, for a
	// removed file) that read it.
	Services []string `json:"services,omitempty"`
}

// PackageChange is one package whose layer a switch adds, replaces or
// drops.
type PackageChange struct {
	Name   string `json:"name"`
	Change string `json:"change"`
	From   string `json:"from,omitempty"` // version in the old image
	To     string `json:"to,omitempty"`   // version in the new image
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
		why, onlyFiles := changed(old, new, prev, &ns)
		switch {
		case why == "":
			p.Unchanged = append(p.Unchanged, ns.Name)
		case onlyFiles && ns.Reload != nil && prev.Reload != nil:
			p.Reload = append(p.Reload, ns.Name)
			p.Reasons[ns.Name] = why
		default:
			p.Restart = append(p.Restart, ns.Name)
			p.Reasons[ns.Name] = why
		}
	}
	for _, prev := range old.Services {
		if new.Service(prev.Name) == nil {
			p.Stop = append(p.Stop, prev.Name)
		}
	}
	for _, l := range [][]string{p.Start, p.Stop, p.Restart, p.Reload, p.Unchanged} {
		slices.Sort(l)
	}
	p.Files = fileChanges(old, new)
	p.Packages = packageChanges(old, new)
	return p
}

// changed says why service o (in old) and n (in new) differ, or "", and
// whether only config files they read changed.
func changed(old, new *imagespec.Image, o, n *imagespec.Service) (why string, onlyFiles bool) {
	if !reflect.DeepEqual(normal(*o), normal(*n)) {
		return "definition changed", false
	}
	for _, name := range servicePackages(n) {
		op, np := pkg(old, name), pkg(new, name)
		if op == nil || np == nil || op.DiffID != np.DiffID {
			return "package " + name + " changed", false
		}
	}
	if n.User != "" {
		if !reflect.DeepEqual(user(old, n.User), user(new, n.User)) {
			return "user " + n.User + " changed", false
		}
	}
	for _, f := range n.Files {
		if !sameFile(file(old, f), file(new, f)) {
			return "file " + f + " changed", true
		}
	}
	return "", false
}

// servicePackages is what a service runs from: its recorded packages, or
// its own package in images that do not record them.
func servicePackages(s *imagespec.Service) []string {
	if len(s.Packages) > 0 {
		return s.Packages
	}
	if s.Package != "" {
		return []string{s.Package}
	}
	return nil
}

func sameFile(a, b *imagespec.File) bool {
	return a != nil && b != nil && a.SHA256 == b.SHA256 && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID
}

// fileChanges lists the config files that differ between old and new.
func fileChanges(old, new *imagespec.Image) []FileChange {
	var out []FileChange
	readers := func(img *imagespec.Image, path string) []string {
		var names []string
		for _, s := range img.Services {
			if slices.Contains(s.Files, path) {
				names = append(names, s.Name)
			}
		}
		slices.Sort(names)
		return names
	}
	for _, nf := range new.Files {
		of := file(old, nf.Path)
		switch {
		case of == nil:
			out = append(out, FileChange{Path: nf.Path, Change: ChangeAdd, Services: readers(new, nf.Path)})
		case !sameFile(of, &nf):
			out = append(out, FileChange{Path: nf.Path, Change: ChangeModify, Services: readers(new, nf.Path)})
		}
	}
	for _, of := range old.Files {
		if file(new, of.Path) == nil {
			out = append(out, FileChange{Path: of.Path, Change: ChangeRemove, Services: readers(old, of.Path)})
		}
	}
	slices.SortFunc(out, func(a, b FileChange) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// packageChanges lists the packages whose layer differs between old and new.
func packageChanges(old, new *imagespec.Image) []PackageChange {
	var out []PackageChange
	for _, np := range new.Packages {
		op := pkg(old, np.Name)
		switch {
		case op == nil:
			out = append(out, PackageChange{Name: np.Name, Change: ChangeAdd, To: np.Version})
		case op.DiffID != np.DiffID:
			out = append(out, PackageChange{Name: np.Name, Change: ChangeModify, From: op.Version, To: np.Version})
		}
	}
	for _, op := range old.Packages {
		if pkg(new, op.Name) == nil {
			out = append(out, PackageChange{Name: op.Name, Change: ChangeRemove, From: op.Version})
		}
	}
	slices.SortFunc(out, func(a, b PackageChange) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// normal clears the differences that do not matter (nil vs empty).
func normal(s imagespec.Service) imagespec.Service {
	if len(s.Env) == 0 {
		s.Env = nil
	}
	if len(s.After) == 0 {
		s.After = nil
	}
	// What a service reads and runs from is compared file by file and
	// package by package, not as part of its definition.
	s.Files, s.Packages = nil, nil
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
	return len(p.Start)+len(p.Stop)+len(p.Restart)+len(p.Reload) == 0
}

// Print writes the plan for people.
func (p *Plan) Print(w io.Writer) {
	verb := "switched"
	if p.DryRun {
		verb = "would switch"
	} else if p.From != "" && p.From == p.To && p.Ref == "" {
		verb = "reconfigured"
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
	line("reload", p.Reload, p.Reasons)
	line("unchanged", p.Unchanged, nil)
	p.printEtc(w)
	if t := p.Trial; t != nil {
		fmt.Fprintf(w, "  on trial: rolls back to %s at %s unless `undistro node confirm` comes first\n", short(t.From), t.Deadline.Format(time.RFC3339))
	}
	if p.From == "" {
		return // a first switch adds everything: the lists say nothing
	}
	if p.Root != nil && p.Root.Derived {
		fmt.Fprintf(w, "  root:     derived from the current one, %d entries written\n", p.Root.Written)
	}
	for _, f := range p.Files {
		fmt.Fprintf(w, "  file %-6s %s", f.Change, f.Path)
		if len(f.Services) > 0 {
			fmt.Fprintf(w, " (read by %s)", strings.Join(f.Services, ", "))
		}
		fmt.Fprintln(w)
	}
	for _, c := range p.Packages {
		fmt.Fprintf(w, "  package %-6s %s", c.Change, c.Name)
		switch {
		case c.From != "" && c.To != "" && c.From != c.To:
			fmt.Fprintf(w, " %s -> %s", c.From, c.To)
		case c.To != "":
			fmt.Fprintf(w, " %s", c.To)
		case c.From != "":
			fmt.Fprintf(w, " %s", c.From)
		}
		fmt.Fprintln(w)
	}
}

// short abbreviates a digest for display.
func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
