package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/un-distro/undistro/internal/logctx"
	"github.com/un-distro/undistro/runtime/drift"
	"github.com/un-distro/undistro/runtime/etcmerge"
	"github.com/un-distro/undistro/runtime/facts"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/render"
	"github.com/un-distro/undistro/runtime/store"
)

// ErrTemplate is wrapped by the error of a switch or reconfigure refused
// because a template of the image does not render (a missing key, a
// syntax error): it names the template's file:line.
var ErrTemplate = errors.New("template does not render")

// nodeConfig is the path of the node's config file.
func (n *Node) nodeConfig() string {
	if n.cfg.NodeConfig != "" {
		return n.cfg.NodeConfig
	}
	return filepath.Join(n.cfg.Root, facts.FileName)
}

// TemplateData is what the node's templates see now: its config file and
// facts.
func (n *Node) TemplateData(ctx context.Context) (*facts.Data, error) {
	gather := n.cfg.Facts
	if gather == nil {
		gather = facts.Gather
	}
	f, err := gather(ctx)
	if err != nil {
		return nil, err
	}
	c, err := facts.LoadConfig(n.nodeConfig(), f.Hostname)
	if err != nil {
		return nil, err
	}
	return facts.NewData(c, f), nil
}

// etcWant returns what img wants under /etc, its templates rendered from
// the node's facts and values.
func (n *Node) etcWant(ctx context.Context, img *store.Image) (map[string]etcmerge.Item, error) {
	tree, err := n.st.Tree(ctx, img.Digest, "etc")
	if err != nil {
		return nil, fmt.Errorf("reading the /etc of %s: %w", short(img.Digest), err)
	}
	var data *facts.Data
	r, err := render.New(n.cfg.Render...)
	if err != nil {
		return nil, err
	}
	return etcmerge.FromImage(tree, img.Meta, func(f imagespec.File, src []byte) ([]byte, error) {
		if data == nil {
			if data, err = n.TemplateData(ctx); err != nil {
				return nil, fmt.Errorf("rendering %s: %w", f.Path, err)
			}
		}
		name := f.Source
		if name == "" {
			name = f.Path
		}
		out, err := r.Render(name, src, data)
		if err != nil {
			return nil, fmt.Errorf("%w: rendering %s: %w", ErrTemplate, f.Path, err)
		}
		return out, nil
	})
}

// planEtc plans the merge of img's /etc into the node's.
func (n *Node) planEtc(ctx context.Context, img *store.Image, policy imagespec.ConfigPolicy) (*etcmerge.Merge, error) {
	want, err := n.etcWant(ctx, img)
	if err != nil {
		return nil, err
	}
	return etcmerge.Open(n.cfg.Root).Plan(want, policy)
}

// applyEtc carries out m (planned for img) with the drift tracker held, so
// the merge's own writes are not taken for local edits, and re-aims the
// tracker at the new set of files. It returns the paths written.
func (n *Node) applyEtc(ctx context.Context, m *etcmerge.Merge, img *store.Image) ([]string, error) {
	if t := n.tracker.Load(); t != nil {
		release := t.Hold()
		defer func() {
			if err := t.Refresh(); err != nil {
				logctx.From(ctx).Error("watching the managed config files", "err", err)
			}
			release()
		}()
	}
	changed, err := etcmerge.Open(n.cfg.Root).Apply(ctx, m, img.Digest)
	if err != nil {
		return changed, fmt.Errorf("merging /etc of %s: %w", short(img.Digest), err)
	}
	if len(changed) > 0 {
		logctx.From(ctx).Info("merged /etc", "image", short(img.Digest), "written", len(changed))
	}
	return changed, nil
}

// reconcileEtc makes the node's /etc follow img where nothing is to be
// decided (after a rollback, or at start, completing a merge a crash
// interrupted): a conflict keeps the local file instead of refusing, since
// there is nothing to refuse. It returns the paths written.
func (n *Node) reconcileEtc(ctx context.Context, img *store.Image) ([]string, error) {
	policy := img.Meta.Config
	if policy.MergePolicy() == imagespec.MergeRefuse {
		policy.Merge = imagespec.MergeKeep
	}
	m, err := n.planEtc(ctx, img, policy)
	if err != nil {
		return nil, err
	}
	for _, d := range m.Decisions {
		if d.LocalEdit {
			logctx.From(ctx).Info("/etc merge", "path", d.Path, "action", d.Action, "reason", d.Reason)
		}
	}
	return n.applyEtc(ctx, m, img)
}

// etcDir is the /etc services see: ROOT/etc once a merge has filled it,
// else "" (the image's own, until the first merge).
func (n *Node) etcDir() string {
	e := etcmerge.Open(n.cfg.Root)
	if m, err := e.Manifest(); err != nil || m.Image == "" {
		return ""
	}
	if fi, err := os.Stat(e.Dir()); err != nil || !fi.IsDir() {
		return ""
	}
	return e.Dir()
}

// lockedReconcileEtc is reconcileEtc under the /etc lock.
func (n *Node) lockedReconcileEtc(ctx context.Context, img *store.Image) ([]string, error) {
	unlock, err := etcmerge.Open(n.cfg.Root).Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return n.reconcileEtc(ctx, img)
}

// rollbackEtc merges the /etc of prev, the image a rollback returns to,
// and returns the paths written. A rollback restores service: if prev's
// /etc cannot be merged (its templates no longer render with the node's
// values), the rollback goes on with /etc as it is and says why.
func (n *Node) rollbackEtc(ctx context.Context, prev *store.Image) []string {
	written, err := n.lockedReconcileEtc(ctx, prev)
	if err != nil {
		logctx.From(ctx).Error("rolling back with /etc as it is: merging the /etc of "+short(prev.Digest), "err", err)
	}
	return written
}

// addEtcChanges adds to p the services of meta that read a file the /etc
// merge wrote and that p leaves running: they restart, or reload when
// they declare how.
func (p *Plan) addEtcChanges(written []string, meta *imagespec.Image) {
	if len(written) == 0 {
		return
	}
	for _, s := range meta.Services {
		if !slices.Contains(p.Unchanged, s.Name) {
			continue
		}
		for _, f := range s.Files {
			if !slices.Contains(written, f) {
				continue
			}
			p.Unchanged = slices.DeleteFunc(p.Unchanged, func(n string) bool { return n == s.Name })
			if s.Reload != nil {
				p.Reload = append(p.Reload, s.Name)
			} else {
				p.Restart = append(p.Restart, s.Name)
			}
			p.Reasons[s.Name] = "file " + f + " rewritten by the /etc merge"
			break
		}
	}
	slices.Sort(p.Restart)
	slices.Sort(p.Reload)
	slices.Sort(p.Unchanged)
}

// followEtc corrects p for the files under /etc: services read the node's
// /etc, so one whose only change is its config files restarts (or
// reloads) when the merge writes one of them there, not when only the
// image's copy changed and the node keeps its own edit.
func (p *Plan) followEtc(old, new *imagespec.Image, written []string) {
	if old == nil {
		return
	}
	var keep []string
	for _, list := range []*[]string{&p.Restart, &p.Reload} {
		*list = slices.DeleteFunc(*list, func(name string) bool {
			o, n := old.Service(name), new.Service(name)
			if o == nil || n == nil {
				return false
			}
			if _, onlyFiles := changed(old, new, o, n); !onlyFiles {
				return false
			}
			for _, f := range n.Files {
				if etcmerge.Managed(f) {
					if slices.Contains(written, f) {
						return false
					}
				} else if !sameFile(file(old, f), file(new, f)) {
					return false
				}
			}
			keep = append(keep, name)
			delete(p.Reasons, name)
			return true
		})
	}
	p.Unchanged = append(p.Unchanged, keep...)
	slices.Sort(p.Unchanged)
}

// printEtc writes the /etc merge decisions of p for people.
func (p *Plan) printEtc(w io.Writer) {
	for _, d := range p.Etc {
		if !d.LocalEdit && p.From == "" {
			continue
		}
		fmt.Fprintf(w, "  etc %-10s %s (%s)\n", d.Action, d.Path, d.Reason)
	}
}

// Reconfigure re-renders the current image's templates from the node's
// facts and values (ROOT/node.toml) and merges them into its /etc; in the
// daemon, the services that read a file that changed restart, or reload
// when they declare how. A template that does not render changes nothing
// and fails naming its file:line.
func (n *Node) Reconfigure(ctx context.Context) (*Plan, error) {
	n.opMu.Lock()
	defer n.unlockOp()
	cur, err := n.current()
	if err != nil {
		return nil, fmt.Errorf("reconfiguring: %w", err)
	}
	if cur == nil {
		return nil, fmt.Errorf("reconfiguring: %w", store.ErrNoCurrent)
	}
	unlock, err := etcmerge.Open(n.cfg.Root).Lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconfiguring: %w", err)
	}
	defer unlock()
	m, err := n.planEtc(ctx, cur, cur.Meta.Config)
	if err != nil {
		return nil, fmt.Errorf("reconfiguring: %w", err)
	}
	plan := &Plan{From: cur.Digest, To: cur.Digest, Reasons: map[string]string{}, Etc: m.Decisions}
	if err := m.Err(); err != nil {
		return plan, fmt.Errorf("reconfiguring: %w", err)
	}
	for _, s := range cur.Meta.Services {
		plan.Unchanged = append(plan.Unchanged, s.Name)
	}
	written, err := n.applyEtc(ctx, m, cur)
	if err != nil {
		return plan, err
	}
	slices.Sort(plan.Unchanged)
	plan.addEtcChanges(written, cur.Meta)
	if n.supervisor() == nil || plan.Empty() {
		return plan, nil
	}
	rootfs, err := n.st.Rootfs(ctx, cur.Digest)
	if err != nil {
		return plan, fmt.Errorf("reconfiguring: %w", err)
	}
	return plan, n.apply(ctx, plan, cur.Meta, rootfs)
}

// DriftReport is what `node drift` shows.
type DriftReport struct {
	Files []drift.File `json:"files"`
}

// Drift lists the node's drifted config files (recorded by the daemon's
// watcher as they were edited) with their diffs. It reads files only.
func Drift(cfg Config) (*DriftReport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	files, err := drift.Report(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("reporting drift: %w", err)
	}
	return &DriftReport{Files: files}, nil
}

// startTracker starts recording local edits of the managed /etc files and
// re-rendering the templates when node.toml or the node's addresses
// change; a failure (the watch budget or the system's limit) is logged,
// not fatal.
func (n *Node) startTracker(ctx context.Context) {
	log := logctx.From(ctx)
	cfgFile, err := filepath.Abs(n.nodeConfig())
	if err != nil {
		log.Error("local edits of config files will not be recorded", "err", err)
		return
	}
	// A change of the node's config file re-renders its templates.
	reconfigure := func() {
		plan, err := n.Reconfigure(ctx)
		if errors.Is(err, store.ErrNoCurrent) {
			return // nothing runs yet: the first switch renders
		}
		if err != nil {
			log.Error("re-rendering templates after a change of "+cfgFile, "err", err)
			return
		}
		log.Info("re-rendered templates after a change of "+cfgFile, "restart", plan.Restart, "reload", plan.Reload)
	}
	// Changes come in bursts (an editor's writes, an interface's
	// addresses): one re-render at a time, one more if any came meanwhile.
	kick := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				reconfigure()
			}
		}
	}()
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	// A change of the node's addresses (a fact) re-renders too.
	if aw, err := facts.WatchAddresses(); err != nil {
		log.Warn("templates will not follow address changes until the next node reconfigure", "err", err)
	} else {
		go func() {
			defer aw.Close()
			if err := aw.Run(ctx, poke); err != nil {
				log.Error("watching the node's addresses", "err", err)
			}
		}()
	}
	t, err := drift.NewTracker(ctx, n.cfg.Root, drift.WithBudget(n.cfg.DriftBudget), drift.WithConfigFile(cfgFile, poke))
	if err != nil {
		log.Error("local edits of config files will not be recorded", "err", err)
		return
	}
	n.tracker.Store(t)
	go func() {
		defer n.tracker.Store(nil)
		defer t.Close()
		if err := t.Run(ctx); err != nil {
			log.Error("recording local edits of config files", "err", err)
		}
	}()
	how := "with the writing process (fanotify)"
	if why := t.Processes(); why != "" {
		how = "without the writing process: " + why
	}
	log.Info("recording local edits of config files", "directories", t.Watched(), "how", how)
}

// DriftStatus is how the daemon records local edits of its /etc.
type DriftStatus struct {
	// Directories is how many directories its inotify instance watches.
	Directories int `json:"directories"`
	// Drifted is how many managed files are recorded as edited.
	Drifted int `json:"drifted"`
	// NoProcess says why edits are recorded without the writing process
	// ("" when fanotify names it).
	NoProcess string `json:"noProcess,omitempty"`
}

func (n *Node) driftStatus() *DriftStatus {
	t := n.tracker.Load()
	if t == nil {
		return nil
	}
	d := &DriftStatus{Directories: t.Watched(), NoProcess: t.Processes()}
	if l, err := drift.ReadLog(n.cfg.Root); err == nil {
		d.Drifted = len(l.Files)
	}
	return d
}

func (d *DriftStatus) describe() string {
	s := fmt.Sprintf("%d file(s) edited on the node (undistro node drift); inotify watches %d director", d.Drifted, d.Directories)
	if d.Directories == 1 {
		s += "y"
	} else {
		s += "ies"
	}
	if d.NoProcess != "" {
		return s + "; writer unknown: " + d.NoProcess
	}
	return s + "; writer named by fanotify"
}
