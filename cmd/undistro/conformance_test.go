//go:build !undistro_node

package main

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// conformancePkg is the OCI distribution-spec conformance suite, a tool
// dependency of this module (go.mod `tool` line), built by the test.
const conformancePkg = "github.com/opencontainers/distribution-spec/conformance"

// TestConformance runs the official OCI distribution-spec conformance
// suite against `undistro serve` (the command, in process, on a loopback
// port of its own) with a user added by `undistro serve user add`, so every
// write goes through authentication, and anonymous pull. Left out, as the
// issue allows: sha512 content and non-distributable layers (optional in
// the spec) and the referrers API (the engine does not implement it).
// Every other test must pass, and a skip outside what the spec makes
// optional fails; the counts per workflow are logged (make test runs it
// verbose).
func TestConformance(t *testing.T) {
	testsupport.SkipShort(t, "conformance suite")
	dir := t.TempDir()
	bin := filepath.Join(dir, "conformance")
	build := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, conformancePkg)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the conformance suite (go build %s): %v\n%s", conformancePkg, err, out)
	}
	data := t.TempDir()
	if out, err := undistroIn(t.Context(), "conformance-pw\n", "serve", "user", "add", "conformance", "--data", data, "--password-stdin"); err != nil {
		t.Fatalf("serve user add: %v\n%s", err, out)
	}
	url, banner, _ := startServe(t, "--addr", "127.0.0.1:0", "--data", data)
	if !strings.Contains(banner, "push and delete need a user") {
		t.Fatalf("banner %q: want the registry closed to anonymous writes", banner)
	}
	results := filepath.Join(dir, "results")
	cmd := exec.CommandContext(t.Context(), bin)
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCI_") { // only this test configures the suite
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"OCI_REGISTRY="+strings.TrimPrefix(url, "http://"),
		"OCI_TLS=disabled",
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
		"OCI_USERNAME=conformance",
		"OCI_PASSWORD=conformance-pw",
		"OCI_RESULTS_DIR="+results,
		"OCI_VERSION=1.1",
		"OCI_LOG=warn",
		"OCI_API_REFERRER=false",
		"OCI_API_BLOBS_UPLOAD_CANCEL=true",
		"OCI_DATA_SHA512=false",
		"OCI_DATA_NONDISTRIBUTABLE=false",
	)
	out, runErr := cmd.CombinedOutput()
	if err := os.WriteFile(filepath.Join(dir, "output.txt"), out, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(results, "junit.xml"))
	if err != nil {
		t.Fatalf("the suite wrote no junit report (%v, exit %v):\n%s", err, runErr, out)
	}
	var ju struct {
		Suites []struct {
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Status    string `xml:"status,attr"` // passed, skipped, failure, error
				Failure   *struct {
					Message string `xml:"message,attr"`
					Data    string `xml:",cdata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
					Data    string `xml:",cdata"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &ju); err != nil {
		t.Fatalf("parsing junit.xml: %v", err)
	}
	type count struct{ pass, fail, skip int }
	counts := map[string]*count{}
	var failed []string
	total := 0
	for _, s := range ju.Suites {
		for _, c := range s.Cases {
			total++
			full := strings.TrimPrefix(c.Classname+"/"+c.Name, "/")
			w := workflow(full)
			if counts[w] == nil {
				counts[w] = &count{}
			}
			switch {
			case c.Failure != nil:
				counts[w].fail++
				failed = append(failed, full+": "+c.Failure.Message+" "+c.Failure.Data)
			case c.Error != nil || c.Status == "failure" || c.Status == "error":
				counts[w].fail++
				failed = append(failed, full+": "+c.Status)
			case c.Status == "skipped":
				counts[w].skip++
				if !optional(full) {
					failed = append(failed, full+": skipped, and it is not an optional part of the spec")
				}
			case c.Status == "passed":
				counts[w].pass++
			default:
				counts[w].fail++
				failed = append(failed, full+": unknown status "+c.Status)
			}
		}
	}
	names := make([]string, 0, len(counts))
	for w := range counts {
		names = append(names, w)
	}
	slices.Sort(names)
	for _, w := range names {
		c := counts[w]
		t.Logf("conformance %-18s %3d passed, %d failed, %d skipped", w+":", c.pass, c.fail, c.skip)
	}
	for _, w := range []string{"pull", "push", "content discovery", "content management"} {
		if counts[w] == nil || counts[w].pass == 0 {
			t.Errorf("workflow %s ran no test", w)
		}
	}
	if total == 0 {
		t.Fatalf("the suite ran no test:\n%s", out)
	}
	for _, f := range failed {
		t.Errorf("FAILED %s", f)
	}
	if runErr != nil || len(failed) > 0 {
		t.Fatalf("conformance suite: exit %v; full output in %s:\n%s", runErr, dir, tail(out, 60))
	}
}

// optional reports whether a skipped conformance test is one the spec
// lets a registry leave out: a single-POST (monolithic) upload and a mount
// without a source repository (both MAY; the engine answers 202 and the
// client falls back, which the suite then checks), and the referrers API,
// which the engine lacks (disabled in the suite's configuration).
func optional(test string) bool {
	for _, s := range []string{"/blob-post-only", "/blob-mount-anonymous", "/referrers"} {
		if strings.HasSuffix(test, s) {
			return true
		}
	}
	return false
}

// workflow files a conformance test under the spec's four workflows by
// what its path in the suite names.
func workflow(path string) string {
	p := strings.ToLower(path)
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(p, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("delete"):
		return "content management"
	case has("tag-list", "tag list", "referrers", "catalog"):
		return "content discovery"
	case has("/push", "blob-post", "blob-patch", "blob-mount", "blob-put", "manifest-put", "upload"):
		return "push"
	case has("/pull", "-get", "-head", "head", "by-digest", "by-tag", "range", "missing", "ping", "empty"):
		return "pull"
	}
	return "other"
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
