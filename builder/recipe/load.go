package recipe

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/un-distro/undistro/internal/tomlpos"
)

// Parse decodes and validates one recipe from data, read from file. file
// names the recipe in errors and its base name must match the recipe's name
// ("recipes/hello.toml" holds name = "hello"). Parse checks everything that
// needs no file system; [Load] also checks that a path source stays inside
// the repository. The error is [tomlpos.Errors], every problem of the file.
func Parse(file string, data []byte) (*Recipe, error) {
	r := &Recipe{File: file}
	idx, errs := tomlpos.Decode(file, data, r)
	r.pos = idx
	if len(errs) == 0 || !onlySyntax(errs) {
		v := validator{r: r}
		v.validate()
		errs = append(errs, tomlpos.DropNear(v.errs, errs)...)
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return r, nil
}

// onlySyntax reports whether errs is a syntax error, after which nothing
// was decoded.
func onlySyntax(errs tomlpos.Errors) bool {
	return len(errs) == 1 && strings.HasPrefix(errs[0].Msg, "syntax error: ")
}

// Load reads, decodes and validates the recipe at path. See [Parse]. A path
// source is resolved against the repository root, the parent of the
// directory holding the recipe, and must stay inside it after symlinks.
func Load(path string) (*Recipe, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading recipe: %w", err)
	}
	r, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if r.Source.Path != "" {
		if _, err := r.SourceDir(); err != nil {
			return nil, tomlpos.Errors{r.Errorf("source.path", "%v", err)}
		}
	}
	return r, nil
}

// RepoRoot is the repository a recipe belongs to: the parent of the
// directory that holds its file.
func (r *Recipe) RepoRoot() (string, error) {
	abs, err := filepath.Abs(r.File)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", r.File, err)
	}
	return filepath.Dir(filepath.Dir(abs)), nil
}

// SourceDir returns the absolute host directory of a path source, after
// checking that it exists and, symlinks resolved, stays inside the
// repository root.
func (r *Recipe) SourceDir() (string, error) {
	if r.Source.Path == "" {
		return "", fmt.Errorf("recipe %s has a %s source, not a path", r.Name, r.Source.Kind())
	}
	root, err := r.RepoRoot()
	if err != nil {
		return "", err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolving repository root %s: %w", root, err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(realRoot, r.Source.Path))
	if err != nil {
		return "", fmt.Errorf("[source]: path %q: %w", r.Source.Path, err)
	}
	if rel, err := filepath.Rel(realRoot, dir); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("[source]: path %q resolves to %s, outside the repository %s: use a directory inside it", r.Source.Path, dir, realRoot)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("[source]: path %q is not a directory", r.Source.Path)
	}
	return dir, nil
}

// LoadDir loads every *.toml recipe in dir, keyed by name. It loads them
// all and returns every problem of every file, sorted, with the recipes
// that loaded cleanly.
func LoadDir(dir string) (map[string]*Recipe, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		return nil, fmt.Errorf("listing recipes in %s: %w", dir, err)
	}
	slices.Sort(files)
	out := make(map[string]*Recipe, len(files))
	var errs tomlpos.Errors
	for _, f := range files {
		r, err := Load(f)
		if err != nil {
			errs.Append(err)
			continue
		}
		out[r.Name] = r
	}
	errs.Sort()
	return out, errs.Err()
}
