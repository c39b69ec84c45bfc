package supervise

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/supervise/internal/launch"
)

// TestSandboxSpecLimits checks what enforces each limit, as node status
// says it, and what the launcher is told: a cgroup v2 group when there is
// one (no rlimit then), else RLIMIT_AS and RLIMIT_NPROC (not for root,
// which RLIMIT_NPROC does not bind) and nothing for the weights.
func TestSandboxSpecLimits(t *testing.T) {
	sb := imagespec.Sandbox{MemoryMax: 64 << 20, TasksMax: 16, CPUWeight: 50, IOWeight: 200}
	user := &syscall.Credential{Uid: 1234, Gid: 1234}
	tests := []struct {
		name                  string
		cgroup                bool
		cred                  *syscall.Credential
		mem, tasks, cpu, io   string
		rlimitAS, rlimitNproc uint64
	}{
		{"cgroup v2", true, user, EnforcedByCgroup, EnforcedByCgroup, EnforcedByCgroup, EnforcedByCgroup, 0, 0},
		{"rlimits, a user", false, user, EnforcedByRlimit, EnforcedByRlimit, NotEnforced, NotEnforced, 64 << 20, 16},
		{"rlimits, root", false, nil, EnforcedByRlimit, NotEnforced, NotEnforced, NotEnforced, 64 << 20, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{}
			if tc.cgroup {
				o.Cgroup = &Cgroup{Dir: t.TempDir()}
			}
			s := New(context.Background(), o)
			var ls launch.Spec
			st, err := s.sandboxSpec("svc", sb, &ls, tc.cred, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range []struct {
				name string
				l    *Limit
				v    int64
				want string
			}{{"memory_max", st.MemoryMax, 64 << 20, tc.mem}, {"tasks_max", st.TasksMax, 16, tc.tasks}, {"cpu_weight", st.CPUWeight, 50, tc.cpu}, {"io_weight", st.IOWeight, 200, tc.io}} {
				if l.l == nil || l.l.EnforcedBy != l.want || l.l.Value != l.v || l.l.How == "" {
					t.Errorf("%s: %+v, want %d enforced by %s, and how", l.name, l.l, l.v, l.want)
				}
			}
			if ls.RlimitAS != tc.rlimitAS || ls.RlimitNproc != tc.rlimitNproc {
				t.Errorf("launcher rlimits AS %d NPROC %d, want %d %d", ls.RlimitAS, ls.RlimitNproc, tc.rlimitAS, tc.rlimitNproc)
			}
			if st.User != "root" || len(st.Capabilities) != 0 || !st.NoNewPrivs || st.Seccomp != "@system-service" ||
				strings.Join(st.Namespaces, ",") != "mount,pid,ipc,uts,net" || st.TmpSize != imagespec.DefaultTmpSize {
				t.Errorf("defaults: %+v", st)
			}
		})
	}
	t.Run("no limits", func(t *testing.T) {
		var ls launch.Spec
		st, err := New(context.Background(), Options{}).sandboxSpec("svc", imagespec.Sandbox{}, &ls, user, "svc")
		if err != nil {
			t.Fatal(err)
		}
		if st.MemoryMax != nil || st.TasksMax != nil || st.CPUWeight != nil || st.IOWeight != nil || ls.RlimitAS != 0 || ls.RlimitNproc != 0 {
			t.Errorf("limits without any declared: %+v, rlimits %d %d", st, ls.RlimitAS, ls.RlimitNproc)
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, bad := range []struct {
			sb   imagespec.Sandbox
			want string
		}{
			{imagespec.Sandbox{Capabilities: []string{"cap_net_raw"}}, `unknown capability "cap_net_raw"`},
			{imagespec.Sandbox{Seccomp: []string{"read"}}, `seccomp "read": not a system call the default filter refuses`},
			{imagespec.Sandbox{Network: "bridge"}, `network "bridge": want one of private, host, none`},
		} {
			var ls launch.Spec
			if _, err := New(context.Background(), Options{}).sandboxSpec("svc", bad.sb, &ls, user, "svc"); err == nil || !strings.Contains(err.Error(), bad.want) {
				t.Errorf("sandbox %+v: %v, want %q", bad.sb, err, bad.want)
			}
		}
	})
}
