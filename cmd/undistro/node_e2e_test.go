package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
)

// brokenRole is web whose service never becomes ready: go-httpbin answers
// /status/500 with 500, so the health gate after a switch must fail.
const brokenRole = `description = "web whose readiness check fails"
inherit = ["web"]
[service.httpbin]
ready = { http = "http://127.0.0.1:8080/status/500", timeout = "3s" }
`

type e2eStatus struct {
	Current *struct {
		Digest string `json:"digest"`
		Role   string `json:"role"`
	} `json:"current"`
	Previous *struct {
		Digest string `json:"digest"`
	} `json:"previous"`
	Daemon   bool `json:"daemon"`
	Services []struct {
		Name string `json:"name"`
		PID  int    `json:"pid"`
	} `json:"services"`
	LastRollback *struct {
		From, To, Reason string
	} `json:"lastRollback"`
}

// TestNodeEndToEnd builds signed images, switches a node to web, runs the
// daemon (services chrooted into the image as root), and checks automatic
// rollback from an image that fails its health gate, refusal of an unsigned
// image, and a manual rollback.
func TestNodeEndToEnd(t *testing.T) {
	repo := nodeRepo(t, "the node runtime (it chroots services)")
	if err := os.WriteFile(filepath.Join(repo, "images", "webbroken.toml"), []byte(brokenRole), 0o644); err != nil {
		t.Fatal(err)
	}
	// webcron adds busybox crond: a quiet service, which (unlike httpbin,
	// killed by SIGPIPE at its next log line) outlives a dead daemon.
	if err := os.WriteFile(filepath.Join(repo, "images", "webcron.toml"), []byte("inherit = [\"web\"]\n[service.crond]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	env := []string{"UNDISTRO_CACHE=" + sharedCache(t), sharedGoCache(t), "SOURCE_DATE_EPOCH=1700000000", "COSIGN_PASSWORD=e2e"}
	run(t, work, env, "key", "generate", "--out", filepath.Join(work, "k"))
	signed := filepath.Join(work, "signed")
	res := buildJSON(t, repo, env, "base", "web", "webbroken", "webcron", "--out", signed, "--sign-key", filepath.Join(work, "k.key"))
	unsigned := filepath.Join(work, "unsigned")
	buildJSON(t, repo, env, "web", "--out", unsigned)

	root := filepath.Join(work, "node")
	nodeArgs := func(args ...string) []string {
		return append([]string{"node", "--root", root}, args...)
	}
	// Without a trusted key the node refuses even the signed image.
	if _, err := runErr(work, env, nodeArgs("switch", "oci:"+signed+":web")...); err == nil || !strings.Contains(err.Error(), "trusts no signing key") {
		t.Fatalf("switch without a trusted key: %v, want a refusal naming `node trust add`", err)
	}
	run(t, work, env, nodeArgs("trust", "add", filepath.Join(work, "k.pub"))...)
	run(t, work, env, nodeArgs("switch", "oci:"+signed+":web")...)
	if st := e2eNodeStatus(t, work, env, root); st.Current == nil || st.Current.Digest != res["web"].Digest {
		t.Fatalf("after switch: %+v, want current %s", st, res["web"].Digest)
	}

	daemon := startDaemon(t, work, env, nodeArgs("run", "--health-timeout", "20s"), "daemon.log")
	waitHTTP(t, "http://127.0.0.1:8080/status/200", 200)

	t.Run("health gate rolls back", func(t *testing.T) {
		_, err := runErr(work, env, nodeArgs("switch", "oci:"+signed+":webbroken")...)
		if err == nil {
			t.Fatal("switch to an image whose service never becomes ready succeeded")
		}
		st := e2eNodeStatus(t, work, env, root)
		if st.Current == nil || st.Current.Digest != res["web"].Digest {
			t.Fatalf("after failed switch current is %+v, want web %s", st.Current, res["web"].Digest)
		}
		if st.LastRollback == nil || st.LastRollback.From != res["webbroken"].Digest || st.LastRollback.Reason == "" {
			t.Fatalf("status does not record the rollback: %+v", st.LastRollback)
		}
		waitHTTP(t, "http://127.0.0.1:8080/status/200", 200)
	})

	t.Run("unsigned image refused", func(t *testing.T) {
		_, err := runErr(work, env, nodeArgs("switch", "oci:"+unsigned+":web")...)
		if err == nil || !strings.Contains(err.Error(), "sign") {
			t.Fatalf("unsigned image: err = %v, want a signature refusal", err)
		}
		if st := e2eNodeStatus(t, work, env, root); st.Current.Digest != res["web"].Digest {
			t.Fatalf("refused switch changed current to %s", st.Current.Digest)
		}
	})

	t.Run("manual rollback", func(t *testing.T) {
		run(t, work, env, nodeArgs("switch", "oci:"+signed+":base")...)
		if st := e2eNodeStatus(t, work, env, root); st.Current.Digest != res["base"].Digest {
			t.Fatalf("current %s, want base %s", st.Current.Digest, res["base"].Digest)
		}
		waitHTTP(t, "http://127.0.0.1:8080/status/200", 0) // base runs no httpbin
		run(t, work, env, nodeArgs("rollback")...)
		if st := e2eNodeStatus(t, work, env, root); st.Current.Digest != res["web"].Digest {
			t.Fatalf("after rollback current %s, want web %s", st.Current.Digest, res["web"].Digest)
		}
		waitHTTP(t, "http://127.0.0.1:8080/status/200", 200)
	})

	t.Run("a new daemon stops what a killed one left running", func(t *testing.T) {
		run(t, work, env, nodeArgs("switch", "oci:"+signed+":webcron")...)
		old := servicePID(t, e2eNodeStatus(t, work, env, root), "crond")
		if err := daemon.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = daemon.Wait()
		if !alive(old) {
			t.Fatalf("crond (pid %d) died with the daemon; this test expects it orphaned", old)
		}
		startDaemon(t, work, env, nodeArgs("run", "--health-timeout", "20s"), "daemon2.log")
		deadline := time.Now().Add(30 * time.Second)
		now := 0
		for time.Now().Before(deadline) {
			if out, err := runErr(work, env, nodeArgs("status", "--json")...); err == nil {
				var st e2eStatus
				if json.Unmarshal([]byte(out), &st) == nil && st.Daemon {
					if now = servicePID(t, st, "crond"); now != 0 && now != old {
						break
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		if now == 0 || now == old {
			t.Fatalf("the new daemon did not start crond (pid %d, old %d)", now, old)
		}
		if alive(old) {
			t.Fatalf("the orphaned crond (pid %d) still runs beside the new daemon's (pid %d)", old, now)
		}
		waitHTTP(t, "http://127.0.0.1:8080/status/200", 200)
	})
}

// servicePID returns the pid node status reports for a service.
func servicePID(t *testing.T, st e2eStatus, name string) int {
	t.Helper()
	for _, s := range st.Services {
		if s.Name == name {
			return s.PID
		}
	}
	t.Fatalf("node status lists no service %s", name)
	return 0
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// nodeRepo starts a node end-to-end test: it needs the build tools and
// root (why says for what), the built binary and a copy of the
// repository, whose path it returns.
func nodeRepo(t *testing.T, why string) string {
	t.Helper()
	need(t, "bwrap", "apt-get", "dpkg-source")
	testsupport.RequireRoot(t, why)
	undistroBin(t)
	return copyRepo(t, repoRoot(t))
}

// startDaemon runs `undistro node run` until the test ends (SIGTERM, then
// a wait), printing its log if the test failed.
func startDaemon(t *testing.T, dir string, env, args []string, logName string) *exec.Cmd {
	t.Helper()
	return startDaemonFiles(t, dir, env, args, logName, nil)
}

// startDaemonFiles is startDaemon with extra descriptors the daemon
// inherits (from fd 3), as a daemon's parent may leave it.
func startDaemonFiles(t *testing.T, dir string, env, args []string, logName string, extra []*os.File) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	daemon := exec.CommandContext(ctx, binPath, args...)
	daemon.Dir = dir
	daemon.Env = append(os.Environ(), env...)
	daemon.ExtraFiles = extra
	daemon.Cancel = func() error { return daemon.Process.Signal(syscall.SIGTERM) }
	daemon.WaitDelay = 15 * time.Second
	logs, err := os.Create(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	daemon.Stdout, daemon.Stderr = logs, logs
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = daemon.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("%s:\n%s", logName, b)
		}
	})
	return daemon
}

func e2eNodeStatus(t *testing.T, dir string, env []string, root string) e2eStatus {
	t.Helper()
	out := run(t, dir, env, "node", "--root", root, "status", "--json")
	var st e2eStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("decoding node status %q: %v", out, err)
	}
	return st
}

// waitHTTP waits until url answers with code (0: until nothing answers).
func waitHTTP(t *testing.T, url string, code int) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		got := 0
		if err == nil {
			got = resp.StatusCode
			resp.Body.Close()
			last = resp.Status
		} else {
			last = err.Error()
		}
		if got == code {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: want %d, last answer: %s", url, code, last)
}
