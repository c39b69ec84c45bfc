package builder

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/un-distro/undistro/internal/testsupport/imagetest"
)

func TestWithPushTag(t *testing.T) {
	for _, tc := range []struct {
		name, tag, want string
	}{
		{name: "commit id", tag: "0123456789abcdef0123456789abcdef01234567"},
		{name: "word", tag: "main"},
		{name: "empty", tag: "", want: "not a valid OCI tag"},
		{name: "leading dash", tag: "-x", want: "not a valid OCI tag"},
		{name: "slash", tag: "a/b", want: "not a valid OCI tag"},
		{name: "too long", tag: strings.Repeat("a", 129), want: "not a valid OCI tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &config{pushTag: "latest"}
			err := WithPushTag(tc.tag)(c)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("WithPushTag(%q): %v", tc.tag, err)
			case tc.want == "" && c.pushTag != tc.tag:
				t.Fatalf("pushTag = %q, want %q", c.pushTag, tc.tag)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("WithPushTag(%q) = %v, want an error containing %q", tc.tag, err, tc.want)
			}
		})
	}
}

// TestPushTag pushes the fixture's role under the default tag and under
// another one: the same image, and Result.Ref names the tag.
func TestPushTag(t *testing.T) {
	needBwrap(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	repo, cache := t.TempDir(), t.TempDir()
	fixture(t, repo)
	reg := imagetest.Registry(t) + "/undistro"
	for _, tc := range []struct {
		opts []Option
		tag  string
	}{{nil, "latest"}, {[]Option{WithPushTag("0123abc")}, "0123abc"}} {
		opts := append([]Option{WithRepo(repo), WithCache(cache), WithOutput(filepath.Join(t.TempDir(), "oci")), WithJobs(1), WithPush(reg)}, tc.opts...)
		res, err := Build(context.Background(), []string{"app"}, opts...)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		ref := reg + "/app:" + tc.tag
		if res[0].Ref != ref {
			t.Errorf("Ref = %q, want %q", res[0].Ref, ref)
		}
		if d, err := crane.Digest(ref); err != nil || d != res[0].Digest {
			t.Errorf("%s = %s, %v; want %s", ref, d, err, res[0].Digest)
		}
	}
}
