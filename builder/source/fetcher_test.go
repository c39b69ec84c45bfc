package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/testsupport"
)

// TestFetcherContract runs every offline Fetcher through the interface's
// contract: Fetch creates dst, returns the identity Cache.Identity
// computes, and fails (with dst's parent left to the caller) on a bad
// checksum.
func TestFetcherContract(t *testing.T) {
	body := gzipBytes(t, tarBytes(t, helloTree))
	srv := newServer(t, map[string][]byte{"/h.tar.gz": body})
	repo, commits := gitRepo(t)
	cases := []struct {
		name string
		f    Fetcher
		good recipe.Source
		bad  recipe.Source
		err  string
	}{
		{"url", &URLFetcher{}, recipe.Source{URL: srv.URL + "/h.tar.gz", SHA256: sha(body)},
			recipe.Source{URL: srv.URL + "/h.tar.gz", SHA256: strings.Repeat("f", 64)}, "checksum mismatch"},
		{"git", &GitFetcher{}, recipe.Source{Git: repo, Commit: commits[0]},
			recipe.Source{Git: repo, Commit: strings.Repeat("f", 40)}, "is not in"},
		{"path", &PathFetcher{RepoRoot: repo}, recipe.Source{Path: "."},
			recipe.Source{Path: ".."}, "path leaves the repository"},
	}
	c, _ := newTestCache(t, WithRepoRoot(repo))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := c.Identity(bg, &recipe.Recipe{Source: tc.good})
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(tempDir(t), "tree")
			got, err := tc.f.Fetch(bg, tc.good, dst)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("Fetch identity %s, Cache.Identity %s", got, want)
			}
			if ents, err := os.ReadDir(dst); err != nil || len(ents) == 0 {
				t.Errorf("dst holds %d entries, err %v", len(ents), err)
			}
			_, err = tc.f.Fetch(bg, tc.bad, filepath.Join(tempDir(t), "tree"))
			testsupport.WantErr(t, err, tc.err)
		})
	}
}

func BenchmarkFetchCacheHit(b *testing.B) {
	body := gzipBytes(b, tarBytes(b, helloTree))
	srv := newServer(b, map[string][]byte{"/h.tar.gz": body})
	c, _ := newTestCache(b)
	r := urlRecipe(srv.URL+"/h.tar.gz", body)
	if _, err := c.Fetch(bg, r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Fetch(bg, r); err != nil {
			b.Fatal(err)
		}
	}
}
