package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// nodeBinaryBudget is the most the stripped node binary (-tags
// undistro_node,noboltdb), which every image carries, may weigh. Measured
// with everything below: about 26.4 MB (Go 1.26, linux/amd64). The runtime
// is about 10 MB: store, unpack, supervise, policy, go-containerregistry's
// remote, and issue 10's node config (templates evaluated by
// runtime/render, node.toml, the /etc merge and the drift recorder, about
// 0.6 MB). The BitTorrent engine (issue 9) is about 14 MB:
// anacrolix/torrent with its DHT, uTP, tracker clients and, linked by its
// root package whether used or not, pion/webrtc for WebTorrent and
// OpenTelemetry. The fleet (issue 12: hashicorp/serf, memberlist and its
// DNS client, and the lb's proxy) is about 2.4 MB. noboltdb leaves out
// bbolt (the engine's default piece-completion store; the node keeps piece
// state itself); sqlite is cgo-only and CGO_ENABLED=0 leaves it out. The
// peer OCI endpoint (runtime/peerreg) is a few tens of KB.
const nodeBinaryBudget = 27_000_000

// nodeBuildTags are the tags the node binary is built with (also in
// recipes/undistro.toml and .ci/bench.sh).
const nodeBuildTags = "undistro_node,noboltdb"

// TestNodeBinaryIsLean builds the node binary as images ship it and checks
// it carries no signing, transparency-log or cosign CLI code (the node only
// verifies, with runtime/policy) and stays within its size budget.
func TestNodeBinaryIsLean(t *testing.T) {
	testsupport.SkipShort(t, "builds the node binary")
	bin := filepath.Join(t.TempDir(), "undistro-node")
	build := exec.Command("go", "build", "-tags", nodeBuildTags, "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the node binary: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	for _, mod := range []string{
		"github.com/sigstore/cosign/v2",           // cosign's library and CLI
		"github.com/sigstore/rekor",               // Rekor client
		"github.com/sigstore/rekor-tiles/v2",      // Rekor v2 client
		"github.com/sigstore/sigstore-go",         // bundle verification, TUF
		"github.com/sigstore/timestamp-authority", // TSA client
		"github.com/theupdateframework/go-tuf/v2", // TUF client
	} {
		if strings.Contains(string(out), "\tdep\t"+mod+"\t") {
			t.Errorf("the node binary links %s:\n%s", mod, out)
		}
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node binary: %d bytes (budget %d)", fi.Size(), nodeBinaryBudget)
	if fi.Size() > nodeBinaryBudget {
		t.Errorf("the node binary is %d bytes, over its budget of %d", fi.Size(), nodeBinaryBudget)
	}
}

// TestNodeBinaryLinksNoBuilder: the runtime imports nothing from the
// builder or the CI pipeline, so the node binary every image carries
// (-tags undistro_node) holds none of their packages; what both sides
// share is runtime/imagespec or the module's internal/.
func TestNodeBinaryLinksNoBuilder(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"),
		"list", "-deps", "-tags", "undistro_node", ".", "../../runtime/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/un-distro/undistro/"
	n := 0
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, mod+"builder") || strings.HasPrefix(pkg, mod+"ci/") {
			t.Errorf("the node binary or the runtime links %s", pkg)
		}
		if strings.HasPrefix(pkg, mod+"runtime/") {
			n++
		}
	}
	if n == 0 {
		t.Fatalf("go list named no runtime package:\n%s", out)
	}
}
