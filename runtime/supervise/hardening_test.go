package supervise

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/internal/sandboxprobe"
	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// probeRoot builds the sandbox probe into a fresh image root as
// /usr/bin/probe, with a setuid-root copy /usr/bin/probe-suid and the
// directories the sandbox mounts on.
func probeRoot(t *testing.T) string {
	t.Helper()
	testsupport.RequireRoot(t, "the service sandbox")
	testsupport.RequireTool(t, "go", "install Go (the probe is built with it)")
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "etc", "proc", "dev", "tmp", "run", "var/lib/state"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(root, "usr/bin/probe"), ".")
	cmd.Dir = filepath.Join("testdata", "probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(root, "usr/bin/probe"))
	if err != nil {
		t.Fatal(err)
	}
	suid := filepath.Join(root, "usr/bin/probe-suid")
	if err := os.WriteFile(suid, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	return root
}

// hostBait sets up what the probe must not reach: a key in root's user
// keyring, a SysV shared memory segment, a listener on the host's
// loopback and a descriptor the supervisor inherits without
// close-on-exec. It returns the probe's environment naming them.
func hostBait(t *testing.T) []string {
	t.Helper()
	bait := testsupport.HostBait(t)
	// An inherited descriptor: not close-on-exec, as what a daemon's
	// parent leaves it.
	var p [2]int
	if err := unix.Pipe2(p[:], 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return append(bait.ProbeEnv(), "PROBE_SANDBOXED=1", "PROBE_SUID=/usr/bin/probe-suid")
}

// TestHardening runs the probe as services, as root and as other users,
// with the defaults and with one grant each, and checks each attempt is
// refused but what the grant gives; then memory_max and tasks_max.
func TestHardening(t *testing.T) {
	root := probeRoot(t)
	env := hostBait(t)
	logs, state := t.TempDir(), t.TempDir()
	s := newSup(t, Options{
		Root: root, Chroot: true, LogDir: logs, StateDir: state,
		Users: []imagespec.User{{Name: "svc", UID: 1234, GID: 1234}, {Name: "tasks", UID: 1235, GID: 1235}, {Name: "root"}},
	})
	probe := func(name, user string, sb imagespec.Sandbox, extra ...string) imagespec.Service {
		return imagespec.Service{Name: name, User: user, Exec: []string{"/usr/bin/probe"}, Env: append(append([]string(nil), env...), extra...),
			Restart: imagespec.RestartNever, Sandbox: sb}
	}
	const netBind = 1 << unix.CAP_NET_BIND_SERVICE
	tests := []struct {
		svc    imagespec.Service
		expect sandboxprobe.Expect
	}{
		{probe("root", "root", imagespec.Sandbox{}), sandboxprobe.Expect{UID: 0, NoNewPrivs: true}},
		{probe("user", "svc", imagespec.Sandbox{}), sandboxprobe.Expect{UID: 1234, NoNewPrivs: true}},
		{probe("cap", "svc", imagespec.Sandbox{Capabilities: []string{"net_bind_service"}}),
			sandboxprobe.Expect{UID: 1234, Caps: netBind, NoNewPrivs: true, Allowed: []string{"bind_port_80"}}},
		{probe("host", "svc", imagespec.Sandbox{Network: imagespec.NetworkHost}),
			sandboxprobe.Expect{UID: 1234, NoNewPrivs: true, Allowed: []string{"connect_host_loopback"}}},
		{probe("rootcap", "root", imagespec.Sandbox{Capabilities: []string{"net_bind_service"}, ReadWritePaths: []string{"/var/lib/state"}}),
			sandboxprobe.Expect{UID: 0, Caps: netBind, NoNewPrivs: true, Allowed: []string{"bind_port_80"}}},
		// keyctl taken back from the filter: the host's key stays out of
		// reach, through the service's own session keyring.
		{probe("keyring", "root", imagespec.Sandbox{Seccomp: []string{"@keyring"}}), sandboxprobe.Expect{UID: 0, NoNewPrivs: true}},
	}
	var svcs []imagespec.Service
	for _, tc := range tests {
		svcs = append(svcs, tc.svc)
	}
	// Go reserves some 750 MiB of address space at start: under the
	// rlimit fallback memory_max must leave room for that.
	svcs = append(svcs,
		probe("mem", "svc", imagespec.Sandbox{MemoryMax: 1 << 30}, "PROBE_ALLOC_MB=1536"),
		probe("tasks", "tasks", imagespec.Sandbox{TasksMax: 24}, "PROBE_TASKS=64"))
	if err := s.Start(context.Background(), svcs); err != nil {
		t.Fatal(err)
	}
	done := func(t *testing.T, name string) ServiceStatus {
		t.Helper()
		var st ServiceStatus
		waitFor(t, name+" to exit", func() bool {
			st = status(t, s, name)
			return st.State == StateStopped || st.State == StateFailed
		})
		return st
	}
	result := func(t *testing.T, name string) *sandboxprobe.Result {
		t.Helper()
		b, err := os.ReadFile(LogPath(logs, name))
		if err != nil {
			t.Fatal(err)
		}
		r, err := sandboxprobe.Parse(string(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return r
	}
	for _, tc := range tests {
		t.Run(tc.svc.Name, func(t *testing.T) {
			if st := done(t, tc.svc.Name); st.LastExit != "exit status 0" {
				t.Fatalf("probe exited %q (%s)", st.LastExit, st.LastError)
			}
			for _, p := range sandboxprobe.Problems(result(t, tc.svc.Name), tc.expect) {
				t.Error(p)
			}
		})
	}
	t.Run("memory_max", func(t *testing.T) {
		st := done(t, "mem")
		if st.State != StateFailed || !strings.Contains(st.LastExit, "memory_max 1073741824 bytes") {
			t.Fatalf("state %s, exit %q: want failed, the memory limit named", st.State, st.LastExit)
		}
		mech := "RLIMIT_AS"
		if s.o.Cgroup != nil {
			mech = "OOM killer"
		}
		if !strings.Contains(st.LastExit, mech) {
			t.Errorf("exit %q does not say %s enforced it", st.LastExit, mech)
		}
		if sb := st.Sandbox; sb == nil || sb.MemoryMax == nil || sb.MemoryMax.Value != 1<<30 {
			t.Errorf("status sandbox %+v lacks memoryMax", sb)
		}
	})
	t.Run("tasks_max", func(t *testing.T) {
		if st := done(t, "tasks"); st.LastExit != "exit status 0" {
			t.Fatalf("probe exited %q", st.LastExit)
		}
		if r := result(t, "tasks"); r.Tasks <= 0 || r.Tasks >= 24 {
			t.Errorf("started %d of 64 processes under tasks_max 24, want fewer than 24 and some", r.Tasks)
		}
	})
	t.Run("read_write_paths", func(t *testing.T) {
		fi, err := os.Stat(filepath.Join(state, "rootcap", "var/lib/state"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("state dir mode %v, want 0700", fi.Mode())
		}
	})
	t.Run("status", func(t *testing.T) {
		sb := status(t, s, "cap").Sandbox
		if sb == nil || sb.User != "svc" || sb.UID != 1234 || strings.Join(sb.Capabilities, ",") != "net_bind_service" ||
			!sb.NoNewPrivs || strings.Join(sb.Namespaces, ",") != "mount,pid,ipc,uts,net" || sb.Network != "private" || sb.Seccomp != "@system-service" {
			t.Errorf("sandbox status %+v", sb)
		}
		if sb := status(t, s, "host").Sandbox; sb == nil || strings.Join(sb.Namespaces, ",") != "mount,pid,ipc,uts" {
			t.Errorf("host network: namespaces %+v", sb)
		}
	})
}

// TestAllowSetuid checks allow_setuid makes the image's setuid program
// run as its owner, root, and still with no capability.
func TestAllowSetuid(t *testing.T) {
	root := probeRoot(t)
	logs := t.TempDir()
	s := newSup(t, Options{Root: root, Chroot: true, LogDir: logs, Users: []imagespec.User{{Name: "svc", UID: 1234, GID: 1234}}})
	err := s.Start(context.Background(), []imagespec.Service{{Name: "suid", User: "svc", Exec: []string{"/usr/bin/probe-suid", "whoami"},
		Restart: imagespec.RestartNever, Sandbox: imagespec.Sandbox{AllowSetuid: true}}})
	if err != nil {
		t.Fatal(err)
	}
	var st ServiceStatus
	waitFor(t, "suid to exit", func() bool { st = status(t, s, "suid"); return st.State == StateStopped || st.State == StateFailed })
	var out string
	for range 100 {
		b, _ := os.ReadFile(LogPath(logs, "suid"))
		if out = string(b); out != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasPrefix(out, "euid=0 capEff=0000000000000000") {
		t.Errorf("the setuid program said %q (exit %q %s), want euid=0 capEff=0000000000000000", out, st.LastExit, st.LastError)
	}
}

// TestCloseInheritedNotify checks the notification fd survives the
// descriptor cleanup.
func TestCloseInheritedNotify(t *testing.T) {
	root := busyboxRoot(t, sandboxDirs...)
	s := newSup(t, Options{Root: root, Chroot: true})
	err := s.Start(context.Background(), []imagespec.Service{{Name: "n", User: "0", Exec: []string{"/bin/sh", "-c", "echo ready >&5; exec sleep 300"},
		Ready: &imagespec.Ready{NotifyFD: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// wwwRoot is a busybox root for the sandbox with /www/index.html holding
// body, for busybox httpd -h /www.
func wwwRoot(t *testing.T, body string) string {
	t.Helper()
	root := busyboxRoot(t, sandboxDirs...)
	if err := os.MkdirAll(filepath.Join(root, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "www", "index.html"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// startReady starts services on s and waits until they are all ready.
func startReady(t *testing.T, s *Supervisor, services ...imagespec.Service) {
	t.Helper()
	if err := s.Start(context.Background(), services); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestReadyInPrivateNetwork checks the readiness checks of a service in a
// network namespace of its own reach it there: tcp and http dial into the
// namespace, a command runs in it. Nothing on the host listens there.
func TestReadyInPrivateNetwork(t *testing.T) {
	root := wwwRoot(t, "hi\n")
	s := newSup(t, Options{Root: root, Chroot: true, Users: []imagespec.User{{Name: "svc", UID: 1234, GID: 1234}}})
	httpd := func(name, port string, r *imagespec.Ready) imagespec.Service {
		return imagespec.Service{Name: name, User: "svc", Exec: []string{"/bin/httpd", "-f", "-p", "127.0.0.1:" + port, "-h", "/www"}, Ready: r}
	}
	// The ports live in the services' own namespaces; the tcp one is a port
	// free on the host a moment ago, so that a connection to it on the
	// host's loopback can only be a leak, not another test's listener.
	hostFree := freeLoopbackPort(t)
	startReady(t, s,
		httpd("tcp", hostFree, &imagespec.Ready{TCP: "127.0.0.1:" + hostFree}),
		httpd("http", "18082", &imagespec.Ready{HTTP: "http://127.0.0.1:18082/index.html"}),
		httpd("cmd", "18083", &imagespec.Ready{Command: []string{"/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:18083/index.html"}}),
	)
	// The host does not see the services' ports.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+hostFree, time.Second); err == nil {
		c.Close()
		t.Error("a private service's port answers on the host's loopback")
	}
}

// TestPublish checks a published port of a private-network service
// answers on the host address declared, forwarded into the namespace,
// and is closed again when the service stops.
func TestPublish(t *testing.T) {
	root := wwwRoot(t, "published\n")
	s := newSup(t, Options{Root: root, Chroot: true, Users: []imagespec.User{{Name: "svc", UID: 1234, GID: 1234}}})
	// 127.0.0.13: an address of this test's own, so no other test's port
	// can clash.
	const host = "127.0.0.13:18090"
	startReady(t, s, imagespec.Service{Name: "web", User: "svc",
		Exec:    []string{"/bin/httpd", "-f", "-p", "127.0.0.1:18090", "-h", "/www"},
		Ready:   &imagespec.Ready{TCP: "127.0.0.1:18090"},
		Sandbox: imagespec.Sandbox{Publish: []string{host}}})
	get := func() (string, error) {
		c, err := net.DialTimeout("tcp", host, 2*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("GET /index.html HTTP/1.0\r\n\r\n")); err != nil {
			return "", err
		}
		b, err := io.ReadAll(c)
		return string(b), err
	}
	for range 3 { // several connections through the same listener
		body, err := get()
		if err != nil || !strings.HasSuffix(body, "\r\n\r\npublished\n") {
			t.Fatalf("GET through the published port: %q, %v", body, err)
		}
	}
	if sb := status(t, s, "web").Sandbox; sb == nil || strings.Join(sb.Publish, ",") != host {
		t.Errorf("status sandbox %+v does not list the published port", sb)
	}
	if err := s.Stop(context.Background(), "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := get(); err == nil {
		t.Error("the published port still answers after the service stopped")
	}
}

// TestProbeSeesUnhardened runs the probe as root in the sandbox of before
// (Options.Unhardened), where the attempts TestHardening expects refused
// succeed: it shows the probe detects what it checks, so a sandbox that
// stopped refusing would fail TestHardening.
func TestProbeSeesUnhardened(t *testing.T) {
	root := probeRoot(t)
	env := hostBait(t)
	logs := t.TempDir()
	s := newSup(t, Options{Root: root, Chroot: true, LogDir: logs, Unhardened: true, Users: []imagespec.User{{Name: "root"}}})
	err := s.Start(context.Background(), []imagespec.Service{{Name: "old", User: "root", Exec: []string{"/usr/bin/probe"}, Env: env, Restart: imagespec.RestartNever}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "old to exit", func() bool { st := status(t, s, "old"); return st.State == StateStopped || st.State == StateFailed })
	b, err := os.ReadFile(LogPath(logs, "old"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := sandboxprobe.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"write_core_pattern", "write_ip_forward", "af_packet", "unshare_user", "shmat_host_segment",
		"connect_host_loopback", "bind_port_80", "exec_from_tmp", "nice_minus_20"} {
		if r.Checks[c] != "allowed" {
			t.Errorf("%s: %s, want allowed in the sandbox of before", c, r.Checks[c])
		}
	}
	if len(r.FDs) == 0 {
		t.Error("the probe saw no inherited descriptor in the sandbox of before")
	}
	problems := strings.Join(sandboxprobe.Problems(r, sandboxprobe.Expect{UID: 0, NoNewPrivs: true}), "\n")
	for _, want := range []string{"CapEff", "CapBnd", "NoNewPrivs 0", "Seccomp 0", "af_packet: allowed, want refused", "inherited descriptors", "/tmp lacks noexec"} {
		if !strings.Contains(problems, want) {
			t.Errorf("Problems does not report %q:\n%s", want, problems)
		}
	}
}

// freeLoopbackPort returns a TCP port nothing listened on at 127.0.0.1 a
// moment ago.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}
