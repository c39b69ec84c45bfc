package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
)

// TestNodeSwitchCrashCLI kills the built `undistro node switch` with SIGKILL
// at each of its write steps (UNDISTRO_CRASH_AT=N) and checks after each
// that `undistro node status` reports image a or b, that the active root
// is that image's complete root (never a mix), and that switching again
// finishes.
func TestNodeSwitchCrashCLI(t *testing.T) {
	testsupport.SkipShort(t, "end-to-end test")
	undistroBin(t)
	work := t.TempDir()
	layout := filepath.Join(work, "oci")
	conf := map[string]string{"a": "version one\n", "b": "version two, longer\n"}
	roles := []imagetest.Role{}
	for _, name := range []string{"a", "b"} {
		roles = append(roles, imagetest.Role{Name: name, Files: map[string]string{
			"/etc/app.conf":                conf[name],
			"/usr/share/" + name + "/data": strings.Repeat(name, 4096),
			"/usr/bin/tool":                "#!/bin/sh\necho " + name + "\n",
		}})
	}
	imagetest.WriteRoles(t, layout, roles...)
	signer := imagetest.NewSigner(t)
	signer.Sign(t, "oci:"+layout+":a")
	signer.Sign(t, "oci:"+layout+":b")
	pub := filepath.Join(work, "k.pub")
	if err := os.WriteFile(pub, signer.PublicPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	template := filepath.Join(work, "template")
	run(t, work, nil, "node", "--root", template, "trust", "add", pub)
	run(t, work, nil, "node", "--root", template, "switch", "oci:"+layout+":a")
	a := e2eNodeStatus(t, work, nil, template).Current.Digest

	seen := map[string]int{}
	for i := 1; ; i++ {
		root := filepath.Join(work, fmt.Sprint("n", i))
		if out, err := exec.Command("cp", "-a", template, root).CombinedOutput(); err != nil {
			t.Fatalf("copying the template node: %v\n%s", err, out)
		}
		cmd := exec.Command(binPath, "node", "--root", root, "switch", "oci:"+layout+":b")
		cmd.Env = append(os.Environ(), fmt.Sprintf("UNDISTRO_CRASH_AT=%d", i))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled()
		if err != nil && !killed {
			t.Fatalf("step %d: switch failed without being killed: %v\n%s", i, err, out)
		}
		st := e2eNodeStatus(t, work, nil, root)
		if st.Current == nil || (st.Current.Role != "a" && st.Current.Role != "b") {
			t.Fatalf("step %d: status after the kill reports %+v, want a or b", i, st.Current)
		}
		if st.Current.Role == "a" && st.Current.Digest != a {
			t.Fatalf("step %d: current a is %s, want %s", i, st.Current.Digest, a)
		}
		// The current image's root holds exactly that image.
		active := filepath.Join(root, "roots", strings.TrimPrefix(st.Current.Digest, "sha256:"))
		role := st.Current.Role
		if b, err := os.ReadFile(filepath.Join(active, "etc/app.conf")); err != nil || string(b) != conf[role] {
			t.Fatalf("step %d: current is %s but its root has app.conf %q (%v)", i, role, b, err)
		}
		other := map[string]string{"a": "b", "b": "a"}[role]
		if _, err := os.Stat(filepath.Join(active, "usr/share", other)); err == nil {
			t.Fatalf("step %d: root of %s holds %s's files: a mix", i, role, other)
		}
		seen[role]++
		run(t, work, nil, "node", "--root", root, "switch", "oci:"+layout+":b")
		if st := e2eNodeStatus(t, work, nil, root); st.Current == nil || st.Current.Role != "b" {
			t.Fatalf("step %d: switching again did not finish: %+v", i, st.Current)
		}
		os.RemoveAll(root)
		if !killed {
			t.Logf("%d write steps killed; the node came back on a %d times, on b %d times", i-1, seen["a"], seen["b"]-1)
			if i-1 < 50 {
				t.Fatalf("only %d crash points: the issue asks for at least 50", i-1)
			}
			return
		}
	}
}
