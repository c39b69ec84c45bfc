package publish

import (
	"bytes"
	"context"
	"errors"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/un-distro/undistro/builder/sbom"
	"github.com/un-distro/undistro/builder/sign"
	"github.com/un-distro/undistro/ci/internal/citest"
	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
)

const password = "test-password"

func pass() ([]byte, error) { return []byte(password), nil }

// TestPublishTwoCommits publishes every role of the fixture, then, on a
// machine with a fresh cache, a commit that changes only the leaf package
// b: afterwards ROLE:main moved for app (which holds b) and not for tools
// or edge, only b was built (a and c were pulled from the registry cache),
// and every image pushed verifies with the cosign CLI, attestations
// included. A third commit whose package fails to build tags nothing.
func TestPublishTwoCommits(t *testing.T) {
	testsupport.RequireTool(t, "bwrap", "apt-get install bubblewrap")
	cosign := cosignBin(t)
	ctx := context.Background()
	repo := citest.Repo(t)
	reg := imagetest.Registry(t) + "/distro"
	keyPrefix := filepath.Join(t.TempDir(), "ci")
	if err := sign.GenerateKey(ctx, keyPrefix, pass); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	cfg := func(base string) Config {
		return Config{Repo: repo, Base: base, Registry: reg, SignKey: keyPrefix + ".key", Pass: pass,
			MoveMain: true, Out: filepath.Join(t.TempDir(), "oci"), Cache: cache, Jobs: 1}
	}
	first := citest.Git(t, repo, "rev-parse", "HEAD")

	s1, err := Publish(ctx, cfg("HEAD~1"))
	if err != nil {
		t.Fatalf("first publish: %v", err)
	}
	if got := roleNames(s1); !slices.Equal(got, []string{"app", "edge", "tools"}) {
		t.Fatalf("first publish roles = %q, want app edge tools", got)
	}
	for _, r := range s1.Roles {
		if r.Ref != reg+"/"+r.Role+":"+first || r.Main != reg+"/"+r.Role+":main" {
			t.Errorf("%s: ref %q, main %q", r.Role, r.Ref, r.Main)
		}
		if d := digestOf(t, r.Main); d != r.Digest {
			t.Errorf("%s:main = %s, want %s", r.Role, d, r.Digest)
		}
	}

	citest.Write(t, repo, map[string]string{"src/b/README": "b, second version\n"})
	second := citest.Commit(t, repo, "b: second version")
	cache = t.TempDir() // another machine
	s2, err := Publish(ctx, cfg(first))
	if err != nil {
		t.Fatalf("second publish: %v", err)
	}
	if got := roleNames(s2); !slices.Equal(got, []string{"app"}) {
		t.Fatalf("second publish roles = %q, want app", got)
	}
	for _, r := range s2.Roles {
		if !slices.Equal(r.Built, []string{"b"}) {
			t.Errorf("%s: built %q, want only b", r.Role, r.Built)
		}
		if got := slices.Sorted(slices.Values(r.Pulled)); !slices.Equal(got, []string{"a", "c"}) {
			t.Errorf("%s: pulled %q from the registry cache, want a and c", r.Role, r.Pulled)
		}
		if r.Ref != reg+"/"+r.Role+":"+second {
			t.Errorf("%s: ref %q, want the second commit's tag", r.Role, r.Ref)
		}
	}
	old := map[string]string{}
	for _, r := range s1.Roles {
		old[r.Role] = r.Digest
	}
	for _, r := range s2.Roles {
		if r.Digest == old[r.Role] {
			t.Errorf("%s: the second image has the first's digest %s", r.Role, r.Digest)
		}
		if d := digestOf(t, reg+"/"+r.Role+":main"); d != r.Digest {
			t.Errorf("%s:main = %s after the second publish, want %s", r.Role, d, r.Digest)
		}
		if d := digestOf(t, reg+"/"+r.Role+":"+first); d != old[r.Role] {
			t.Errorf("%s:%s = %s, want the first image %s", r.Role, first, d, old[r.Role])
		}
	}
	for _, role := range []string{"edge", "tools"} {
		if d := digestOf(t, reg+"/"+role+":main"); d != old[role] {
			t.Errorf("%s:main moved to %s though the second commit does not touch it (was %s)", role, d, old[role])
		}
		if tagExists(t, reg+"/"+role+":"+second) {
			t.Errorf("%s:%s was pushed though the plan does not hold it", role, second)
		}
	}

	// Every image pushed verifies with the real cosign CLI.
	pub := keyPrefix + ".pub"
	work := t.TempDir()
	for _, r := range append(s1.Roles, s2.Roles...) {
		byDigest := reg + "/" + r.Role + "@" + r.Digest
		runCosign(t, cosign, work, "verify", "--key", pub, "--insecure-ignore-tlog=true", "--allow-http-registry", byDigest)
		runCosign(t, cosign, work, "verify-attestation", "--type", "spdxjson", "--key", pub, "--insecure-ignore-tlog=true", "--allow-http-registry", byDigest)
		runCosign(t, cosign, work, "verify-attestation", "--type", "slsaprovenance1", "--key", pub, "--insecure-ignore-tlog=true", "--allow-http-registry", byDigest)
	}

	var md, text bytes.Buffer
	if err := s2.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := s2.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| app | `" + reg + "/app:" + second + "`", "`" + reg + "/app:main`", "(`a`, `c`)"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown summary lacks %q:\n%s", want, md.String())
		}
	}
	if !strings.Contains(text.String(), reg+"/app:main moved") {
		t.Errorf("text summary:\n%s", text.String())
	}

	// A package that fails to build fails the run naming it and its log,
	// and tags nothing.
	citest.Write(t, repo, map[string]string{"recipes/b.toml": strings.Replace(citest.Files["recipes/b.toml"],
		"cp README", "echo b is broken >&2; exit 3; cp README", 1)})
	third := citest.Commit(t, repo, "b: broken")
	s3, err := Publish(ctx, cfg(second))
	if err == nil {
		t.Fatal("publishing a commit whose package fails to build succeeded")
	}
	if s3.Failed == nil || s3.Failed.Package != "b" || !strings.Contains(err.Error(), "package b failed") || !strings.Contains(err.Error(), s3.Failed.Log) {
		t.Fatalf("failure = %+v, error %v: want package b and its log named", s3.Failed, err)
	}
	if log, rerr := os.ReadFile(s3.Failed.Log); rerr != nil || !strings.Contains(string(log), "b is broken") {
		t.Errorf("log %s: %q, %v", s3.Failed.Log, log, rerr)
	}
	if tagExists(t, reg+"/app:"+third) {
		t.Error("a failed run pushed app")
	}
	if d := digestOf(t, reg+"/app:main"); d != s2.Roles[0].Digest {
		t.Errorf("a failed run moved app:main to %s", d)
	}
	md.Reset()
	if err := s3.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "Package **b** failed") {
		t.Errorf("Markdown of the failure: %v\n%s", err, md.String())
	}
}

func TestPublishRefuses(t *testing.T) {
	ctx := context.Background()
	repo := citest.Repo(t)
	key := filepath.Join(t.TempDir(), "k")
	if err := sign.GenerateKey(ctx, key, pass); err != nil {
		t.Fatal(err)
	}
	good := Config{Repo: repo, Base: "HEAD~1", Registry: "127.0.0.1:1/distro", SignKey: key + ".key", Pass: pass, Out: t.TempDir()}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		dirty bool
		want  string
		is    error
	}{
		{name: "no key", edit: func(c *Config) { c.SignKey = "" }, want: "--sign-key KEY, or --keyless"},
		{name: "key and keyless", edit: func(c *Config) { c.Keyless = true }, want: "exclude each other"},
		{name: "registry with a tag", edit: func(c *Config) { c.Registry = "127.0.0.1:1/distro@sha256:00" }, want: "REGISTRY/PREFIX"},
		{name: "no base", edit: func(c *Config) { c.Base = "" }, want: "--base REV"},
		{name: "unplanned role", edit: func(c *Config) { c.Roles = []string{"web"} }, want: `role "web" is not in the plan`},
		{name: "dirty work tree", dirty: true, want: "commit or stash", is: ErrDirty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			if tc.edit != nil {
				tc.edit(&c)
			}
			if tc.dirty {
				citest.Write(t, repo, map[string]string{"src/a/data.txt": "uncommitted\n"})
				t.Cleanup(func() { citest.Git(t, repo, "checkout", "--", "src/a/data.txt") })
			}
			s, err := Publish(ctx, c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if s.Failed == nil || len(s.Roles) != 0 {
				t.Errorf("summary = %+v, want a failure and no role", s)
			}
		})
	}
}

func roleNames(s *Summary) []string {
	var out []string
	for _, r := range s.Roles {
		out = append(out, r.Role)
	}
	return out
}

func digestOf(t *testing.T, ref string) string {
	t.Helper()
	d, err := crane.Digest(ref)
	if err != nil {
		t.Fatalf("resolving %s: %v", ref, err)
	}
	return d
}

func tagExists(t *testing.T, ref string) bool {
	t.Helper()
	_, err := crane.Digest(ref)
	return err == nil
}

// cosignBin returns the cosign CLI (make deps installs it in GOPATH/bin).
func cosignBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	p := filepath.Join(filepath.SplitList(build.Default.GOPATH)[0], "bin", "cosign")
	if _, err := os.Stat(p); err != nil {
		testsupport.Unavailable(t, "cosign CLI not installed: go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5 (make deps)")
	}
	return p
}

// runCosign runs cosign offline with its caches in dir and fails the test
// on an error.
func runCosign(t *testing.T, bin, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	home := filepath.Join(dir, "home")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "TUF_ROOT=" + filepath.Join(dir, "tuf"), "SIGSTORE_NO_CACHE=1"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPublishKeyless: a keyless matrix job (one role, main not moved)
// pushes ROLE:<commit> with no signature of its own and writes the role's
// SBOM for the workflow's cosign attest.
func TestPublishKeyless(t *testing.T) {
	testsupport.RequireTool(t, "bwrap", "apt-get install bubblewrap")
	ctx := context.Background()
	repo := citest.Repo(t)
	head := citest.Git(t, repo, "rev-parse", "HEAD")
	reg := imagetest.Registry(t) + "/distro"
	out := filepath.Join(t.TempDir(), "oci")
	s, err := Publish(ctx, Config{Repo: repo, Base: "HEAD~1", Registry: reg, Keyless: true, Roles: []string{"tools"},
		Out: out, Cache: t.TempDir(), Jobs: 1})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if s.Signing != "keyless" || len(s.Roles) != 1 || s.Roles[0].Role != "tools" || s.MainMoved {
		t.Fatalf("summary = %+v", s)
	}
	r := s.Roles[0]
	if d := digestOf(t, reg+"/tools:"+head); d != r.Digest {
		t.Errorf("tools:%s = %s, want %s", head, d, r.Digest)
	}
	for _, ref := range []string{reg + "/tools:main", reg + "/edge:" + head, reg + "/tools:" + imagetest.AttachmentTag(r.Digest, "sig")} {
		if tagExists(t, ref) {
			t.Errorf("%s exists after a keyless matrix job", ref)
		}
	}
	if r.SBOM != out+".sbom/tools.spdx.json" {
		t.Errorf("SBOM path %q", r.SBOM)
	}
	doc, err := os.ReadFile(r.SBOM)
	if err != nil {
		t.Fatal(err)
	}
	if err := sbom.Validate(doc); err != nil {
		t.Errorf("SBOM does not validate: %v", err)
	}
	if !strings.Contains(string(doc), strings.TrimPrefix(r.Digest, "sha256:")) || !strings.Contains(string(doc), `"d"`) {
		t.Errorf("SBOM does not name the image digest and package d:\n%s", doc)
	}
}
