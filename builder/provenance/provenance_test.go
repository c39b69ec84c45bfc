package provenance

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const digest = "sha256:4d2a1b0f4c1e7a6e7f5c9b8a1d2e3f4051627384950a1b2c3d4e5f60718293a4"

func params() Params {
	return Params{
		Roles:      []string{"web", "base"},
		Repository: "https://github.com/un-distro/undistro",
		Commit:     strings.Repeat("c", 40),
		Recipes: []Material{
			{URI: "recipes/whoami.toml", Digest: map[string]string{"sha256": strings.Repeat("1", 64)}},
			{URI: "recipes/busybox.toml", Digest: map[string]string{"sha256": strings.Repeat("2", 64)}},
		},
		Sources: []Material{
			{URI: "pkg:golang/github.com/traefik/whoami@v1.10.3", Digest: map[string]string{"dirHash": "h1:abc="}},
			{URI: "pkg:deb/debian/busybox-static@1:1.35.0-4+b3", Digest: map[string]string{"sha256": strings.Repeat("3", 64)}},
		},
		BuilderVersion: "v0.1.0",
	}
}

func TestGenerate(t *testing.T) {
	b, err := Generate("127.0.0.1:5000/undistro/web", digest, params())
	if err != nil {
		t.Fatal(err)
	}
	testsupport.Golden(t, filepath.Join("testdata", "web.provenance.json"), b, *update)
	var st statement
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatal(err)
	}
	bd := st.Predicate.BuildDefinition
	checks := []struct{ name, got, want string }{
		{"_type", st.Type, StatementType},
		{"predicateType", st.PredicateType, PredicateType},
		{"subject digest", "sha256:" + st.Subject[0].Digest["sha256"], digest},
		{"buildType", bd.BuildType, BuildType},
		{"roles", strings.Join(bd.ExternalParameters.Roles, ","), "base,web"},
		{"commit", bd.ExternalParameters.Commit, strings.Repeat("c", 40)},
		{"first dependency", bd.ResolvedDependencies[0].URI, "git+https://github.com/un-distro/undistro@" + strings.Repeat("c", 40)},
		{"recipes sorted", bd.ResolvedDependencies[1].URI, "recipes/busybox.toml"},
		{"sources after recipes", bd.ResolvedDependencies[3].URI, "pkg:deb/debian/busybox-static@1:1.35.0-4+b3"},
		{"builder id", st.Predicate.RunDetails.Builder.ID, DefaultBuilderID},
		{"builder version", st.Predicate.RunDetails.Builder.Version["undistro"], "v0.1.0"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if st.Predicate.RunDetails.Metadata != nil {
		t.Error("metadata written without timestamps: provenance would not be reproducible")
	}
	p := params()
	p.StartedOn = time.Unix(1700000000, 0)
	b2, err := Generate("x", digest, p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b2), `"startedOn": "2023-11-14T22:13:20Z"`) {
		t.Errorf("startedOn missing:\n%s", b2)
	}
}

func TestGenerateErrors(t *testing.T) {
	cases := []struct {
		name   string
		subj   string
		digest string
		mod    func(p *Params)
		want   string
	}{
		{"bad digest", "web", "sha256:00", nil, `subject digest "sha256:00" is not sha256:<64 hex>`},
		{"no subject", "", digest, nil, "empty subject name"},
		{"no roles", "web", digest, func(p *Params) { p.Roles = nil }, "no roles"},
		{"short commit", "web", digest, func(p *Params) { p.Commit = "abc123" }, `commit "abc123" is not a full git hash`},
		{"no repository", "web", digest, func(p *Params) { p.Repository = "" }, "empty repository"},
		{"source without digest", "web", digest, func(p *Params) { p.Sources[0].Digest = nil }, `source "pkg:golang/github.com/traefik/whoami@v1.10.3" has no URI or no digest`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := params()
			if tc.mod != nil {
				tc.mod(&p)
			}
			_, err := Generate(tc.subj, tc.digest, p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDigestSet(t *testing.T) {
	cases := []struct{ in, key, val, err string }{
		{"sha256:" + strings.Repeat("a", 64), "sha256", strings.Repeat("a", 64), ""},
		{"h1:abc=", "dirHash", "h1:abc=", ""},
		{"git:" + strings.Repeat("b", 40), "gitCommit", strings.Repeat("b", 40), ""},
		{"md4:00", "", "", `unknown algorithm "md4"`},
		{"nocolon", "", "", "want ALGORITHM:VALUE"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			d, err := DigestSet(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || d[tc.key] != tc.val {
				t.Fatalf("DigestSet = %v, %v; want %s=%s", d, err, tc.key, tc.val)
			}
		})
	}
}
