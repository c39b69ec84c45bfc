package etcmerge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/atomicfile"
	"github.com/un-distro/undistro/internal/crash"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// ErrConflict is wrapped by the error of a merge the policy "refuse" stops.
var ErrConflict = errors.New("local edits conflict with the new image")

// Entry describes one managed file under /etc.
type Entry struct {
	Path   string `json:"path"` // absolute, "/etc/..."
	Link   bool   `json:"link,omitempty"`
	Mode   uint32 `json:"mode"` // permission bits (0 for a link)
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	SHA256 string `json:"sha256"` // of the content, or of a link's target
	// Dir: a directory of the image's /etc (FromImage), created when
	// missing with its mode and owner, never merged or recorded.
	Dir      bool   `json:"-"`
	Source   string `json:"source,omitempty"`
	Template bool   `json:"template,omitempty"`
}

// Item is a file the image wants: its entry and content (a link's target).
type Item struct {
	Entry
	Data []byte
}

// NewItem returns an item with its hash filled in.
func NewItem(e Entry, data []byte) Item {
	e.SHA256 = sum(data)
	return Item{Entry: e, Data: data}
}

// Manifest is ROOT/conf/etc.json: what the node last installed.
type Manifest struct {
	Image   string                 `json:"image,omitempty"` // digest it came from
	Policy  imagespec.ConfigPolicy `json:"policy,omitzero"`
	Entries map[string]Entry       `json:"entries"`
}

// Etc is a node's writable /etc and its base.
type Etc struct {
	root string // the node's root
}

// Open returns the /etc of the node at root (nothing is read yet).
func Open(root string) *Etc { return &Etc{root: root} }

// Dir is the writable /etc services see: ROOT/etc.
func (e *Etc) Dir() string { return filepath.Join(e.root, "etc") }

// BaseDir holds a copy of each installed file: ROOT/conf/base/etc/....
func (e *Etc) BaseDir() string { return filepath.Join(e.root, "conf", "base") }

func (e *Etc) manifestPath() string { return filepath.Join(e.root, "conf", "etc.json") }

// nextPath is the manifest a merge is installing, written before its first
// change to ROOT/etc and removed after the manifest: while it exists, a
// file that is as it says was written by that merge, not edited locally.
func (e *Etc) nextPath() string { return filepath.Join(e.root, "conf", "etc.next.json") }

// Live returns the path on the host of p ("/etc/x") in the writable /etc.
func (e *Etc) Live(p string) string { return filepath.Join(e.root, filepath.FromSlash(p)) }

// Base returns the path of p's base copy.
func (e *Etc) Base(p string) string { return filepath.Join(e.BaseDir(), filepath.FromSlash(p)) }

// Manifest reads ROOT/conf/etc.json; none yet is an empty manifest.
func (e *Etc) Manifest() (*Manifest, error) { return e.readManifest(e.manifestPath()) }

func (e *Etc) readManifest(file string) (*Manifest, error) {
	m := &Manifest{Entries: map[string]Entry{}}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the /etc manifest: %w", err)
	}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("reading the /etc manifest %s: %w: move it aside to take every file from the image", file, err)
	}
	if m.Entries == nil {
		m.Entries = map[string]Entry{}
	}
	for p := range m.Entries {
		if !Managed(p) {
			return nil, fmt.Errorf("reading the /etc manifest %s: path %q is not under /etc", e.manifestPath(), p)
		}
	}
	return m, nil
}

// Managed reports whether p is a clean absolute path strictly under /etc.
func Managed(p string) bool {
	return strings.HasPrefix(p, "/etc/") && path.Clean(p) == p && !strings.Contains(p, "/../")
}

// State is what a file is on disk: absent, or its hash.
type State struct {
	Exists bool
	Link   bool
	SHA256 string
	Mode   uint32
	Other  string // not a regular file or link: what it is
}

// Stat reads the state of host path p (not following a final link).
func Stat(p string) (State, error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallENOTDIR) {
		return State{}, nil
	}
	if err != nil {
		return State{}, err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(p)
		if err != nil {
			return State{}, err
		}
		return State{Exists: true, Link: true, SHA256: sum([]byte(t))}, nil
	case fi.Mode().IsRegular():
		b, err := os.ReadFile(p)
		if err != nil {
			return State{}, err
		}
		return State{Exists: true, SHA256: sum(b), Mode: uint32(fi.Mode().Perm())}, nil
	default:
		return State{Exists: true, Other: fi.Mode().Type().String()}, nil
	}
}

func (s State) same(e Entry) bool {
	return s.Exists && s.Other == "" && s.Link == e.Link && s.SHA256 == e.SHA256 && (e.Link || s.Mode == e.Mode)
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Actions of a Decision.
const (
	Add       = "add"        // new in the image, absent locally
	Update    = "update"     // the image changed it, no local edit
	Remove    = "remove"     // the image dropped it, no local edit
	KeepLocal = "keep-local" // a local edit is kept
	TakeImage = "take-image" // a local edit is replaced by the image's file (policy image)
	Refuse    = "refuse"     // both changed and the policy refuses
)

// Decision is what the merge does with one file.
type Decision struct {
	Path   string `json:"path"`
	Action string `json:"action"`
	Reason string `json:"reason"`
	// LocalEdit: the file was edited on the node (what the dry run lists).
	LocalEdit bool  `json:"localEdit,omitempty"`
	write     *Item // what to install, nil for none
	noop      bool  // local already has write: only the base moves
}

// Merge is a planned merge.
type Merge struct {
	Decisions []Decision `json:"decisions"`
	Image     string     `json:"-"`
	want      map[string]Item
	dirs      []Entry // the image's directories, parents first
	etc       *Etc
	policy    imagespec.ConfigPolicy
}

// Err is nil, or the refusal naming each conflicting file; it wraps
// ErrConflict.
func (m *Merge) Err() error {
	var files []string
	for _, d := range m.Decisions {
		if d.Action == Refuse {
			files = append(files, d.Path)
		}
	}
	if len(files) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s edited on this node and changed by the image (role merge policy %q): set merge = \"keep\" or \"image\" in the role, or undo the edit (%s; what the current image installed is %s)",
		ErrConflict, strings.Join(files, ", "), imagespec.MergeRefuse, m.etc.Live(files[0]), m.etc.Base(files[0]))
}

// Changed returns the paths the merge writes or removes, sorted.
func (m *Merge) Changed() []string {
	var out []string
	for _, d := range m.Decisions {
		switch d.Action {
		case Add, Update, Remove, TakeImage:
			if !d.noop {
				out = append(out, d.Path)
			}
		}
	}
	return out
}

// Plan decides, per file, how to merge want (the new image's /etc, keyed
// by path) into the node's /etc under policy. Nothing is written.
func (e *Etc) Plan(want map[string]Item, policy imagespec.ConfigPolicy) (*Merge, error) {
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	base, err := e.Manifest()
	if err != nil {
		return nil, err
	}
	// A merge a crash interrupted: what it already wrote is no local edit.
	var next *Manifest
	if _, err := os.Stat(e.nextPath()); err == nil {
		if next, err = e.readManifest(e.nextPath()); err != nil {
			return nil, err
		}
	}
	m := &Merge{want: map[string]Item{}, policy: policy, etc: e}
	paths := map[string]bool{}
	for p, it := range want {
		if !Managed(p) {
			return nil, fmt.Errorf("merging /etc: path %q is not under /etc", p)
		}
		if it.Dir {
			m.dirs = append(m.dirs, it.Entry)
			continue
		}
		m.want[p] = it
		paths[p] = true
	}
	slices.SortFunc(m.dirs, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	for p := range base.Entries {
		paths[p] = true
	}
	if next != nil {
		for p := range next.Entries {
			paths[p] = true
		}
	}
	for _, p := range slices.Sorted(mapKeys(paths)) {
		local, err := Stat(e.Live(p))
		if err != nil {
			return nil, fmt.Errorf("merging /etc: %w", err)
		}
		old, hadOld := base.Entries[p]
		if next != nil {
			switch ne, ok := next.Entries[p]; {
			case ok && local.same(ne):
				old, hadOld = ne, true
			case !ok && !local.Exists:
				hadOld = false
			}
		}
		nw, hasNew := m.want[p]
		if d, ok := decide(p, local, old, hadOld, nw, hasNew, policy.MergePolicy()); ok {
			m.Decisions = append(m.Decisions, d)
		}
	}
	return m, nil
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// decide is the three-way rule for one file; ok is false when nothing is
// to be done or said.
func decide(p string, local State, old Entry, hadOld bool, nw Item, hasNew bool, policy string) (Decision, bool) {
	d := Decision{Path: p}
	edited := hadOld && !local.same(old) || !hadOld && local.Exists
	imageChanged := hasNew != hadOld || hasNew && (nw.SHA256 != old.SHA256 || nw.Mode != old.Mode || nw.Link != old.Link)
	switch {
	case hasNew && local.same(nw.Entry):
		if hadOld && !imageChanged {
			return d, false
		}
		// Already what the image wants (an edit the image caught up with):
		// record it as installed.
		d.Action, d.Reason, d.write, d.noop = Update, "already as the image has it", &nw, true
		d.LocalEdit = edited
		return d, true
	case !edited && !imageChanged:
		return d, false
	case !edited:
		switch {
		case !hasNew:
			d.Action, d.Reason = Remove, "the image no longer has it"
		case hadOld:
			d.Action, d.Reason, d.write = Update, "the image changed it", &nw
		default:
			d.Action, d.Reason, d.write = Add, "new in the image", &nw
		}
		return d, true
	case !imageChanged:
		d.Action, d.LocalEdit, d.Reason = KeepLocal, true, "local edit kept: the image did not change it"
		if !hasNew {
			d.LocalEdit = local.Exists
			d.Reason = "locally removed, kept removed: the image did not change it"
		}
		return d, true
	}
	// Both changed.
	d.LocalEdit = true
	what := "changed it"
	if !hasNew {
		what = "removed it"
	} else if !hadOld {
		what = "adds it"
	}
	switch policy {
	case imagespec.MergeKeep:
		d.Action, d.Reason = KeepLocal, "edited locally and the image "+what+": policy keep"
	case imagespec.MergeImage:
		d.Action, d.Reason = TakeImage, "edited locally and the image "+what+": policy image, local edit dropped"
		if hasNew {
			d.write = &nw
		}
	default:
		d.Action, d.Reason = Refuse, "edited locally and the image "+what+": policy refuse"
	}
	return d, true
}

// Apply carries out m (refusing it if Err is not nil) and records image as
// the new base. It returns the paths written or removed in ROOT/etc.
func (e *Etc) Apply(ctx context.Context, m *Merge, image string) ([]string, error) {
	if err := m.Err(); err != nil {
		return nil, err
	}
	base, err := e.Manifest()
	if err != nil {
		return nil, err
	}
	e.removeTemps(m.want, base)
	// The base follows the image: every wanted file, whatever the local
	// decision, is what the image installed.
	next := &Manifest{Image: image, Policy: m.policy, Entries: map[string]Entry{}}
	for p, it := range m.want {
		next.Entries[p] = it.Entry
	}
	if err := e.writeManifest(e.nextPath(), next, "etc.next"); err != nil {
		return nil, err
	}
	// The image's directories exist (empty ones included: a service may
	// need /etc/crontabs), with its mode and owner where created.
	for _, d := range m.dirs {
		if err := mkdir(e.Dir(), e.Live(d.Path), d); err != nil {
			return nil, fmt.Errorf("merging %s: %w", d.Path, err)
		}
	}
	var changed []string
	for _, d := range m.Decisions {
		if err := ctx.Err(); err != nil {
			return changed, err
		}
		live := e.Live(d.Path)
		switch {
		case d.write != nil && !d.noop:
			if err := install(e.Dir(), live, *d.write, "etc.file"); err != nil {
				return changed, fmt.Errorf("merging %s: %w", d.Path, err)
			}
			changed = append(changed, d.Path)
		case d.Action == Remove || d.Action == TakeImage && d.write == nil:
			crash.Point("etc.remove")
			if err := os.Remove(live); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return changed, fmt.Errorf("merging %s: %w", d.Path, err)
			}
			changed = append(changed, d.Path)
		}
	}
	for p, it := range m.want {
		if old, ok := base.Entries[p]; ok && old.SHA256 == it.SHA256 && old.Link == it.Link && old.Mode == it.Mode {
			if s, err := Stat(e.Base(p)); err == nil && s.same(it.Entry) {
				continue
			}
		}
		if err := install(e.BaseDir(), e.Base(p), it, "etc.base"); err != nil {
			return changed, fmt.Errorf("recording the base of %s: %w", p, err)
		}
	}
	for p := range base.Entries {
		if _, ok := m.want[p]; !ok {
			crash.Point("etc.base.remove")
			if err := os.Remove(e.Base(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return changed, fmt.Errorf("dropping the base of %s: %w", p, err)
			}
		}
	}
	if err := e.writeManifest(e.manifestPath(), next, "etc.manifest"); err != nil {
		return changed, err
	}
	crash.Point("etc.next.remove")
	if err := os.Remove(e.nextPath()); err != nil {
		return changed, fmt.Errorf("finishing the /etc merge: %w", err)
	}
	slices.Sort(changed)
	return changed, nil
}

func (e *Etc) writeManifest(file string, m *Manifest, step string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(file, append(b, '\n'), 0o600, atomicfile.Step(step)); err != nil {
		return fmt.Errorf("writing the /etc manifest: %w", err)
	}
	return nil
}

// Restore puts p's base copy back in ROOT/etc (the drift policy revert).
func (e *Etc) Restore(p string) error {
	m, err := e.Manifest()
	if err != nil {
		return err
	}
	ent, ok := m.Entries[p]
	if !ok {
		return fmt.Errorf("restoring %s: not a managed file", p)
	}
	var data []byte
	if ent.Link {
		t, err := os.Readlink(e.Base(p))
		if err != nil {
			return fmt.Errorf("restoring %s: %w", p, err)
		}
		data = []byte(t)
	} else if data, err = os.ReadFile(e.Base(p)); err != nil {
		return fmt.Errorf("restoring %s: %w", p, err)
	}
	return install(e.Dir(), e.Live(p), Item{Entry: ent, Data: data}, "etc.restore")
}

// removeTemps removes the temp files an interrupted merge left in the
// directories it writes: ROOT/conf and those of the managed files, live
// and base.
func (e *Etc) removeTemps(want map[string]Item, base *Manifest) {
	dirs := map[string]bool{filepath.Dir(e.manifestPath()): true}
	for p := range want {
		dirs[filepath.Dir(e.Live(p))], dirs[filepath.Dir(e.Base(p))] = true, true
	}
	for p := range base.Entries {
		dirs[filepath.Dir(e.Live(p))], dirs[filepath.Dir(e.Base(p))] = true, true
	}
	for d := range dirs {
		ents, _ := os.ReadDir(d)
		for _, ent := range ents {
			if atomicfile.IsTemp(ent.Name()) {
				_ = os.Remove(filepath.Join(d, ent.Name()))
			}
		}
	}
}

// Lock takes the node's /etc lock (ROOT/conf/etc.lock, flock), which
// serialises merges between processes (two daemon-less commands), until
// the returned unlock is called. It waits for the holder; ctx ends the
// wait.
func (e *Etc) Lock(ctx context.Context) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(e.manifestPath()), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(e.root, "conf", "etc.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking /etc: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking /etc: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("locking /etc: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
