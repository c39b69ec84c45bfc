package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/sandboxprobe"
	"github.com/un-distro/undistro/internal/testsupport"
)

// sandboxStatus is what this test reads of `node status --json`.
type sandboxStatus struct {
	Limits   string `json:"limits"`
	Services []struct {
		Name     string `json:"name"`
		State    string `json:"state"`
		LastExit string `json:"lastExit"`
		Sandbox  *struct {
			User         string   `json:"user"`
			Capabilities []string `json:"capabilities"`
			Namespaces   []string `json:"namespaces"`
			Network      string   `json:"network"`
			Seccomp      string   `json:"seccomp"`
			MemoryMax    *struct {
				Value      int64  `json:"value"`
				EnforcedBy string `json:"enforcedBy"`
			} `json:"memoryMax"`
			TasksMax *struct {
				EnforcedBy string `json:"enforcedBy"`
			} `json:"tasksMax"`
		} `json:"sandbox"`
	} `json:"services"`
}

// TestNodeSandboxProbe builds the sandbox probe from a test recipe, runs
// its services under `undistro node run` (as root and as a user, with the
// defaults and with one grant each) and checks each attempt the probe
// makes is refused except what the grant gives; that memory_max makes the
// service fail with the reason said, tasks_max caps its processes and
// allow_setuid lets a setuid program of the image run as its owner.
func TestNodeSandboxProbe(t *testing.T) {
	repo := nodeRepo(t, "the node runtime's service sandbox")
	bait, extra := hostBait(t)
	recipe, err := os.ReadFile("testdata/sandbox/probe.toml")
	if err != nil {
		t.Fatal(err)
	}
	role, err := os.ReadFile("testdata/sandbox/probe-role.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "recipes", "probe.toml"), recipe, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "images", "probe.toml"), []byte(strings.ReplaceAll(string(role), "BAIT", bait)), 0o644); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	env := []string{"UNDISTRO_CACHE=" + sharedCache(t), sharedGoCache(t), "SOURCE_DATE_EPOCH=1700000000", "COSIGN_PASSWORD=e2e"}
	run(t, work, env, "key", "generate", "--out", filepath.Join(work, "k"))
	out := filepath.Join(work, "oci")
	buildJSON(t, repo, env, "probe", "--out", out, "--sign-key", filepath.Join(work, "k.key"))

	// The image shows what each service asks for.
	inspect := run(t, work, env, "image", "inspect", "oci:"+out+":probe")
	for _, want := range []string{"capabilities=net_bind_service", "network=host", "memory_max=1073741824", "tasks_max=24", "nothing (default sandbox)"} {
		if !strings.Contains(inspect, want) {
			t.Errorf("image inspect does not show %q:\n%s", want, inspect)
		}
	}

	root := filepath.Join(work, "node")
	run(t, work, env, "node", "--root", root, "switch", "oci:"+out+":probe", "--key", filepath.Join(work, "k.pub"))
	startDaemonFiles(t, work, env, []string{"node", "--root", root, "run"}, "daemon.log", extra)

	var st sandboxStatus
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := json.Unmarshal([]byte(run(t, work, env, "node", "--root", root, "status", "--json")), &st); err != nil {
			t.Fatal(err)
		}
		finished := len(st.Services) == 7
		for _, s := range st.Services {
			finished = finished && (s.State == "stopped" || s.State == "failed")
		}
		if finished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the probes did not all finish: %+v", st.Services)
		}
		time.Sleep(200 * time.Millisecond)
	}
	logOf := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, "logs", name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const netBind = 1 << unix.CAP_NET_BIND_SERVICE
	for _, tc := range []struct {
		name   string
		expect sandboxprobe.Expect
	}{
		{"probe-root", sandboxprobe.Expect{UID: 0, NoNewPrivs: true}},
		{"probe-user", sandboxprobe.Expect{UID: 1500, NoNewPrivs: true}},
		{"probe-cap", sandboxprobe.Expect{UID: 1500, Caps: netBind, NoNewPrivs: true, Allowed: []string{"bind_port_80"}}},
		{"probe-host", sandboxprobe.Expect{UID: 1500, NoNewPrivs: true, Allowed: []string{"connect_host_loopback"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := sandboxprobe.Parse(logOf(tc.name))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range sandboxprobe.Problems(r, tc.expect) {
				t.Error(p)
			}
		})
	}
	svc := func(name string) int {
		for i, s := range st.Services {
			if s.Name == name {
				return i
			}
		}
		t.Fatalf("no service %s in status", name)
		return -1
	}
	t.Run("memory_max", func(t *testing.T) {
		s := st.Services[svc("probe-mem")]
		mech := "RLIMIT_AS"
		if strings.HasPrefix(st.Limits, "cgroup") {
			mech = "OOM killer"
		}
		if s.State != "failed" || !strings.Contains(s.LastExit, "memory_max 1073741824 bytes") || !strings.Contains(s.LastExit, mech) {
			t.Errorf("probe-mem: state %s, last exit %q: want failed, memory_max and %s named", s.State, s.LastExit, mech)
		}
		if s.Sandbox == nil || s.Sandbox.MemoryMax == nil || s.Sandbox.MemoryMax.EnforcedBy == "" {
			t.Errorf("status does not say what enforces memory_max: %+v", s.Sandbox)
		}
	})
	t.Run("tasks_max", func(t *testing.T) {
		r, err := sandboxprobe.Parse(logOf("probe-tasks"))
		if err != nil {
			t.Fatal(err)
		}
		if r.UID != 1501 || r.Tasks <= 0 || r.Tasks >= 24 {
			t.Errorf("probe-tasks (uid %d) started %d of 64 processes under tasks_max 24, want its dedicated uid 1501 and fewer than 24", r.UID, r.Tasks)
		}
	})
	t.Run("allow_setuid", func(t *testing.T) {
		// The setuid bit survived build, image and store; allow_setuid
		// lets it work, and still no capability comes with it.
		if got := logOf("probe-setuid"); !strings.HasPrefix(got, "euid=0 capEff=0000000000000000") {
			t.Errorf("probe-setuid (user probe, allow_setuid) said %q, want euid=0 capEff=0000000000000000", got)
		}
		if s := st.Services[svc("probe-setuid")]; s.State != "stopped" {
			t.Errorf("probe-setuid: state %s, last exit %q", s.State, s.LastExit)
		}
	})
	t.Run("status", func(t *testing.T) {
		s := st.Services[svc("probe-cap")]
		if sb := s.Sandbox; sb == nil || sb.User != "probe" || strings.Join(sb.Capabilities, ",") != "net_bind_service" ||
			strings.Join(sb.Namespaces, ",") != "mount,pid,ipc,uts,net" || sb.Seccomp != "@system-service" {
			t.Errorf("probe-cap's sandbox in node status: %+v", sb)
		}
		if st.Limits == "" {
			t.Error("node status does not say what enforces limits")
		}
		human := run(t, work, env, "node", "--root", root, "status")
		if !strings.Contains(human, "probe-cap: user probe (uid 1500), capabilities net_bind_service") {
			t.Errorf("node status does not show the sandboxes:\n%s", human)
		}
	})
}

// hostBait sets up what the probe must not reach: a key in root's user
// keyring, a SysV shared memory segment and a listener on the host's
// loopback; it returns the probe's environment naming them, as a TOML
// inline table, and a pipe for the daemon to inherit.
func hostBait(t *testing.T) (string, []*os.File) {
	t.Helper()
	bait := testsupport.HostBait(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return fmt.Sprintf(`{ PROBE_KEY = "%d", PROBE_SHM = "%d", PROBE_PORT = "%d" }`, bait.Key, bait.Shm, bait.Port), []*os.File{r}
}
