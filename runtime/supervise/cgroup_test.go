package supervise

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/runtime/imagespec"
)

func TestUnifiedPath(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{"delegated", "0::/system.slice/undistro.service\n", "/system.slice/undistro.service", ""},
		{"hybrid host", "12:memory:/x\n1:name=systemd:/x\n0::/x\n", "/x", ""},
		{"root group", "0::/\n", "", "runs in the root cgroup"},
		{"v1 only", "4:memory:/process_api/abc\n1:cpu:/\n", "", "no cgroup v2 entry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := unifiedPath(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrNoCgroup) {
					t.Fatalf("unifiedPath = %q, %v; want error %q wrapping ErrNoCgroup", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("unifiedPath = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// fakeCgroup is a directory shaped as a delegated cgroup v2 group.
func fakeCgroup(t *testing.T, controllers string) string {
	t.Helper()
	dir := t.TempDir()
	for f, v := range map[string]string{"cgroup.controllers": controllers, "cgroup.subtree_control": "", "cgroup.procs": ""} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCgroupFiles checks, in a directory shaped as a cgroup, what the
// supervisor writes: itself into the leaf, the controllers for the
// children, each service's limits, and how an OOM kill is read back.
func TestCgroupFiles(t *testing.T) {
	if _, err := checkCgroup(fakeCgroup(t, "cpu memory pids")); err == nil || !strings.Contains(err.Error(), "controller io is not delegated") {
		t.Errorf("checkCgroup without io: %v", err)
	}
	dir := fakeCgroup(t, "cpuset cpu io memory hugetlb pids rdma misc")
	cg, err := checkCgroup(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Groups a previous supervisor left: an empty one is removed, one the
	// kernel refuses to remove (here: not empty) stays.
	for _, d := range []string{"svc-old", "svc-busy", "other"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "svc-busy", "cgroup.procs"), []byte("17"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cg.Setup(4242); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{"svc-old": false, "svc-busy": true, "other": true} {
		if _, err := os.Stat(filepath.Join(dir, d)); (err == nil) != want {
			t.Errorf("after Setup, %s exists: %v, want %v", d, err == nil, want)
		}
	}
	if got := read(t, filepath.Join(dir, "supervisor", "cgroup.procs")); got != "4242" {
		t.Errorf("supervisor leaf holds %q, want the supervisor's pid", got)
	}
	if got := read(t, filepath.Join(dir, "cgroup.subtree_control")); got != "+memory +pids +cpu +io" {
		t.Errorf("subtree_control = %q", got)
	}
	// The kernel creates a new group's files; here the test does.
	svc := filepath.Join(dir, "svc-web")
	if err := os.Mkdir(svc, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"memory.max", "memory.swap.max", "pids.max", "cpu.weight", "io.weight"} {
		if err := os.WriteFile(filepath.Join(svc, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := cg.serviceGroup("web", imagespec.Sandbox{MemoryMax: 64 << 20, TasksMax: 32, CPUWeight: 50})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for file, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "0", "pids.max": "32", "cpu.weight": "50", "io.weight": "default 100",
	} {
		if got := read(t, filepath.Join(svc, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	// Limits dropped from the image are lifted on the next start.
	f, err = cg.serviceGroup("web", imagespec.Sandbox{})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := read(t, filepath.Join(svc, "memory.max")); got != "max" {
		t.Errorf("memory.max = %q after the limit was dropped, want max", got)
	}
	if cg.ooms("web") != 0 {
		t.Error("ooms without memory.events")
	}
	if err := os.WriteFile(filepath.Join(svc, "memory.events"), []byte("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := cg.ooms("web"); n != 1 {
		t.Errorf("ooms = %d, want 1", n)
	}
	st := &SandboxStatus{MemoryMax: &Limit{Value: 64 << 20, EnforcedBy: EnforcedByCgroup}}
	if r := exitReason(st, 1, nil); !strings.Contains(r, "OOM killer: memory_max 67108864 bytes") {
		t.Errorf("exit reason %q", r)
	}
}

// TestDetectCgroupHere checks detection says why there is no subtree on a
// host without one, and creates nothing.
func TestDetectCgroupHere(t *testing.T) {
	cg, err := DetectCgroup()
	if err != nil {
		if !errors.Is(err, ErrNoCgroup) {
			t.Fatalf("DetectCgroup error %v does not wrap ErrNoCgroup", err)
		}
		return
	}
	if _, err := os.Stat(filepath.Join(cg.Dir, "supervisor")); err == nil {
		t.Errorf("detection created %s/supervisor", cg.Dir)
	}
}

// TestRemoveDropsCgroup checks Remove takes a forgotten service's group
// away with it.
func TestRemoveDropsCgroup(t *testing.T) {
	dir := fakeCgroup(t, "cpu io memory pids")
	cg, err := checkCgroup(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := newSup(t, Options{Cgroup: cg})
	if err := s.Start(context.Background(), []imagespec.Service{{Name: "once", Exec: []string{"/bin/true"}, Restart: imagespec.RestartNever}}); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, "once", StateStopped)
	group := filepath.Join(dir, "svc-once")
	if err := os.Mkdir(group, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("once"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(group); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the removed service's group is still there: %v", err)
	}
}
