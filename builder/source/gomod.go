package source

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/un-distro/undistro/builder/recipe"
)

// GoModFetcher fetches a Go module with `go mod download`, which checks it
// against Go's checksum database, compares its hash with the recipe's sum,
// copies the module's tree and downloads every dependency into ModCache so
// the build can run offline.
type GoModFetcher struct {
	// ModCache is the GOMODCACHE to download into (required).
	ModCache string
}

var _ Fetcher = (*GoModFetcher)(nil)

// modDownload is the part of `go mod download -json` output used here.
type modDownload struct {
	Path, Version, Dir, Sum, GoMod, Error string
}

// Fetch downloads s.GoMod, checks it and copies it into dst.
func (g *GoModFetcher) Fetch(ctx context.Context, s recipe.Source, dst string) (string, error) {
	id, err := gomodIdentity(s)
	if err != nil {
		return "", err
	}
	if g.ModCache == "" {
		return "", fmt.Errorf("go module source %s: no GOMODCACHE set", s.GoMod)
	}
	if err := need("go", "golang-go (or install Go from go.dev)"); err != nil {
		return "", err
	}
	// A stub main module, so no go.mod above the cache is used or touched.
	scratch := filepath.Join(filepath.Dir(dst), "gomod")
	if err := os.Mkdir(scratch, 0o755); err != nil {
		return "", fmt.Errorf("downloading Go module %s: %w", s.GoMod, err)
	}
	if err := os.WriteFile(filepath.Join(scratch, "go.mod"), []byte("module undistro.invalid/fetch\n"), 0o644); err != nil {
		return "", fmt.Errorf("downloading Go module %s: %w", s.GoMod, err)
	}
	out, err := run(ctx, scratch, g.env("-mod=mod"), "go", "mod", "download", "-json", s.GoMod)
	var m modDownload
	if jerr := json.Unmarshal(out, &m); jerr == nil && m.Error != "" {
		return "", fmt.Errorf("downloading Go module %s: %s", s.GoMod, m.Error)
	}
	if err != nil {
		return "", fmt.Errorf("downloading Go module %s: %w", s.GoMod, err)
	}
	if m.Dir == "" || m.Sum == "" {
		return "", fmt.Errorf("downloading Go module %s: go printed no directory or sum", s.GoMod)
	}
	if m.Sum != s.Sum {
		return "", &MismatchError{Want: s.Sum, Got: m.Sum, Source: s.GoMod, Key: "sum"}
	}
	if err := copyTree(ctx, m.Dir, dst); err != nil {
		return "", fmt.Errorf("copying Go module %s: %w", s.GoMod, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "go.mod")); err == nil {
		// Every dependency of the module's packages, for the offline build.
		// -mod=readonly: the copy must stay what was verified.
		if _, err := run(ctx, dst, g.env("-mod=readonly"), "go", "mod", "download"); err != nil {
			return "", fmt.Errorf("downloading dependencies of %s: %w", s.GoMod, err)
		}
	}
	return id, nil
}

// env is the environment for the go command: our GOMODCACHE, no
// workspace, and no variable that turns off checksum verification.
func (g *GoModFetcher) env(goflags string) []string {
	env := environWithout("GOMODCACHE", "GOFLAGS", "GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE", "GOINSECURE", "GOWORK", "GO111MODULE")
	if v := os.Getenv("GOSUMDB"); strings.EqualFold(v, "off") {
		env = environWithout("GOMODCACHE", "GOFLAGS", "GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE", "GOINSECURE", "GOWORK", "GO111MODULE", "GOSUMDB")
	}
	return append(env, "GOMODCACHE="+g.ModCache, "GOFLAGS="+goflags, "GOWORK=off", "GO111MODULE=on")
}

// ensureGoDeps re-downloads a cached Go source's dependencies when its
// module is gone from the GOMODCACHE (go clean -modcache); otherwise it
// runs nothing.
func ensureGoDeps(ctx context.Context, s recipe.Source, f *Fetched) error {
	mod, ver, _ := strings.Cut(s.GoMod, "@")
	zip := filepath.Join(f.GoModCache, "cache", "download", filepath.FromSlash(escapeModPath(mod)), "@v", escapeModPath(ver)+".zip")
	if _, err := os.Stat(zip); err == nil {
		return nil
	}
	g := &GoModFetcher{ModCache: f.GoModCache}
	stub, err := os.MkdirTemp("", "undistro-gomod-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stub)
	if err := os.WriteFile(filepath.Join(stub, "go.mod"), []byte("module undistro.invalid/fetch\n"), 0o644); err != nil {
		return err
	}
	if _, err := run(ctx, stub, g.env("-mod=mod"), "go", "mod", "download", s.GoMod); err != nil {
		return fmt.Errorf("downloading %s again into %s: %w", s.GoMod, f.GoModCache, err)
	}
	if _, err := os.Stat(filepath.Join(f.Dir, "go.mod")); err != nil {
		return nil
	}
	if _, err := run(ctx, f.Dir, g.env("-mod=readonly"), "go", "mod", "download"); err != nil {
		return fmt.Errorf("downloading dependencies of %s again: %w", s.GoMod, err)
	}
	return nil
}

// escapeModPath is the module cache's case encoding: "A" becomes "!a".
func escapeModPath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
