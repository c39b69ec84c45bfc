package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
	Daemon       bool `json:"daemon"`
	LastRollback *struct {
		From, To, Reason string
	} `json:"lastRollback"`
}

// TestNodeEndToEnd builds signed images, switches a node to web, runs the
// daemon (services chrooted into the image as root), and checks automatic
// rollback from an image that fails its health gate, refusal of an unsigned
// image, and a manual rollback.
func TestNodeEndToEnd(t *testing.T) {
	need(t, "bwrap", "apt-get", "dpkg-source")
	if os.Geteuid() != 0 {
		t.Skip("the node runtime chroots services: run as root (CI does)")
	}
	undistroBin(t)
	repo := copyRepo(t, repoRoot(t))
	if err := os.WriteFile(filepath.Join(repo, "images", "webbroken.toml"), []byte(brokenRole), 0o644); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	env := []string{"UNDISTRO_CACHE=" + sharedCache(t), sharedGoCache(t), "SOURCE_DATE_EPOCH=1700000000", "COSIGN_PASSWORD=e2e"}
	run(t, work, env, "key", "generate", "--out", filepath.Join(work, "k"))
	signed := filepath.Join(work, "signed")
	res := buildJSON(t, repo, env, "base", "web", "webbroken", "--out", signed, "--sign-key", filepath.Join(work, "k.key"))
	unsigned := filepath.Join(work, "unsigned")
	buildJSON(t, repo, env, "web", "--out", unsigned)

	root := filepath.Join(work, "node")
	nodeArgs := func(args ...string) []string {
		return append([]string{"node", "--root", root}, args...)
	}
	// The key is installed on the first switch and required from then on.
	run(t, work, env, nodeArgs("switch", "oci:"+signed+":web", "--key", filepath.Join(work, "k.pub"))...)
	if st := e2eNodeStatus(t, work, env, root); st.Current == nil || st.Current.Digest != res["web"].Digest {
		t.Fatalf("after switch: %+v, want current %s", st, res["web"].Digest)
	}

	ctx, cancel := context.WithCancel(context.Background())
	daemon := exec.CommandContext(ctx, binPath, nodeArgs("run", "--health-timeout", "20s")...)
	daemon.Env = append(os.Environ(), env...)
	daemon.Cancel = func() error { return daemon.Process.Signal(syscall.SIGTERM) }
	daemon.WaitDelay = 15 * time.Second
	logs, err := os.Create(filepath.Join(work, "daemon.log"))
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
			t.Logf("daemon log:\n%s", b)
		}
	})
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
