package node

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/un-distro/undistro/runtime/store"
	"github.com/un-distro/undistro/runtime/supervise"
)

// StateUnsupervised is a service's state in Status when no daemon runs.
const StateUnsupervised supervise.State = "unsupervised"

// Status is what `node status` shows.
type Status struct {
	Root     string     `json:"root"`
	Current  *ImageInfo `json:"current,omitempty"`
	Previous *ImageInfo `json:"previous,omitempty"`
	// Daemon says whether a daemon supervises the services; without one
	// every service is StateUnsupervised.
	Daemon   bool                      `json:"daemon"`
	Services []supervise.ServiceStatus `json:"services"`
	// GiveUps are the services the supervisor gave up on (state failed).
	GiveUps      []string  `json:"giveUps,omitempty"`
	LastRollback *Rollback `json:"lastRollback,omitempty"`
	// Pending is a switch whose health gate has not passed yet.
	Pending *Pending `json:"pending,omitempty"`
	// Trial is a switch that rolls back unless confirmed by its deadline.
	Trial *Trial `json:"trial,omitempty"`
	// Limits says what enforces the services' memory_max, tasks_max,
	// cpu_weight and io_weight: a cgroup v2 subtree or the rlimit
	// fallback (each service's Sandbox says it per limit).
	Limits string `json:"limits,omitempty"`
	// Drift says how the daemon records local edits of /etc (nil without
	// a daemon, or when it could not start recording).
	Drift *DriftStatus `json:"drift,omitempty"`
}

// ImageInfo names one image in the store.
type ImageInfo struct {
	Digest string `json:"digest"`
	Ref    string `json:"ref,omitempty"`
	Role   string `json:"role,omitempty"`
	Size   int64  `json:"size"`
	// Admission says why the node accepted the image: the keys whose
	// signatures verified, or that it runs unsigned by explicit opt-in.
	Admission *Admission `json:"admission,omitempty"`
}

func info(img *store.Image) *ImageInfo {
	if img == nil {
		return nil
	}
	i := &ImageInfo{Digest: img.Digest, Ref: img.Ref, Size: img.Size}
	if img.Meta != nil {
		i.Role = img.Meta.Role
	}
	return i
}

// Status reports the current and previous images, the services, the last
// rollback and any switch still pending.
func (n *Node) Status(ctx context.Context) (*Status, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Status{Root: n.cfg.Root, Services: []supervise.ServiceStatus{}}
	cur, err := n.current()
	if err != nil {
		return nil, fmt.Errorf("reading status: %w", err)
	}
	s.Current = info(cur)
	if prev, err := n.st.Previous(); err == nil {
		s.Previous = info(prev)
	}
	n.stMu.Lock()
	st, err := readState(n.cfg.Root)
	n.stMu.Unlock()
	if err != nil {
		return nil, err
	}
	s.LastRollback, s.Pending, s.Trial = st.LastRollback, st.Pending, st.Trial
	for _, i := range []*ImageInfo{s.Current, s.Previous} {
		if i != nil {
			i.Admission = st.Admitted[i.Digest]
		}
	}
	sup := n.supervisor()
	switch {
	case sup != nil:
		s.Daemon = true
		s.Services = sup.Status()
		s.Limits = sup.Limits()
		s.Drift = n.driftStatus()
		for _, ss := range s.Services {
			if ss.State == supervise.StateFailed {
				s.GiveUps = append(s.GiveUps, ss.Name)
			}
		}
	case cur != nil && cur.Meta != nil:
		for _, svc := range cur.Meta.Services {
			s.Services = append(s.Services, supervise.ServiceStatus{Name: svc.Name, State: StateUnsupervised})
		}
	}
	return s, nil
}

// Print writes s for people.
func (s *Status) Print(w io.Writer) {
	img := func(label string, i *ImageInfo) {
		if i == nil {
			fmt.Fprintf(w, "%-9s (none)\n", label+":")
			return
		}
		fmt.Fprintf(w, "%-9s %s %s %s\n", label+":", i.Digest, i.Role, i.Ref)
		if a := i.Admission; a != nil {
			fmt.Fprintf(w, "%-9s %s\n", "", a.describe())
		}
	}
	img("current", s.Current)
	img("previous", s.Previous)
	if !s.Daemon {
		fmt.Fprintln(w, "daemon:   not running (services start with `undistro node run`)")
	}
	if p := s.Pending; p != nil {
		fmt.Fprintf(w, "pending:  switch to %s not yet health-checked\n", short(p.To))
	}
	if t := s.Trial; t != nil {
		fmt.Fprintf(w, "trial:    switch to %s rolls back to %s at %s unless confirmed (undistro node confirm)\n", short(t.To), short(t.From), t.Deadline.Format(time.RFC3339))
	}
	if r := s.LastRollback; r != nil {
		fmt.Fprintf(w, "rollback: %s %s -> %s: %s\n", r.Time.Format(time.RFC3339), short(r.From), short(r.To), r.Reason)
	}
	if d := s.Drift; d != nil {
		fmt.Fprintf(w, "drift:    %s\n", d.describe())
	}
	if len(s.Services) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tPID\tRESTARTS\tSINCE\tLAST")
	for _, ss := range s.Services {
		since, pid := "-", "-"
		if !ss.Since.IsZero() {
			since = ss.Since.Format(time.RFC3339)
		}
		if ss.PID > 0 {
			pid = fmt.Sprint(ss.PID)
		}
		last := strings.TrimSpace(strings.Join([]string{ss.LastExit, ss.LastError}, " "))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", ss.Name, ss.State, pid, ss.Restarts, since, last)
	}
	tw.Flush()
	printSandboxes(w, s)
}

// printSandboxes writes each service's sandbox: user, capabilities,
// namespaces, seccomp and limits with what enforces them.
func printSandboxes(w io.Writer, s *Status) {
	any := false
	for _, ss := range s.Services {
		sb := ss.Sandbox
		if sb == nil {
			continue
		}
		if !any {
			fmt.Fprintf(w, "\nsandboxes (limits: %s):\n", s.Limits)
			any = true
		}
		caps := "none"
		if len(sb.Capabilities) > 0 {
			caps = strings.Join(sb.Capabilities, ",")
		}
		fmt.Fprintf(w, "  %s: user %s (uid %d), capabilities %s, no_new_privs %t, namespaces %s, network %s, seccomp %s\n",
			ss.Name, sb.User, sb.UID, caps, sb.NoNewPrivs, strings.Join(sb.Namespaces, ","), sb.Network, sb.Seccomp)
		for _, l := range []struct {
			name string
			l    *supervise.Limit
		}{{"memory_max", sb.MemoryMax}, {"tasks_max", sb.TasksMax}, {"cpu_weight", sb.CPUWeight}, {"io_weight", sb.IOWeight}} {
			if l.l != nil {
				fmt.Fprintf(w, "    %s %d: %s (%s)\n", l.name, l.l.Value, l.l.EnforcedBy, l.l.How)
			}
		}
		if len(sb.ReadWritePaths) > 0 {
			fmt.Fprintf(w, "    read_write_paths %s\n", strings.Join(sb.ReadWritePaths, " "))
		}
	}
}

// describe says in one line why the image was admitted.
func (a *Admission) describe() string {
	s := "signed by " + strings.Join(a.KeyIDs, ", ")
	if a.Unsigned {
		s = "UNSIGNED: admitted with --insecure-allow-unsigned at " + a.Time.Format(time.RFC3339)
	}
	if a.Downgrade {
		s += "; downgrade admitted with --allow-downgrade"
	}
	return s
}
