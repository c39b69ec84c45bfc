package scaffold

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/builder/source"
	"github.com/un-distro/undistro/internal/archive"
	"github.com/un-distro/undistro/internal/archive/compression"
	"github.com/un-distro/undistro/internal/atomicfile"
)

// ErrExists is returned by New when the recipe file is already there.
var ErrExists = errors.New("recipe already exists")

// buildSystem is a recognised way to build a source tree: the file that
// marks it, the host tools it needs and the script that builds it.
type buildSystem struct {
	marker string
	name   string
	deps   []string
	script string
}

// buildSystems in the order they are tried: a tree with a configure script
// is built with it even if it also has a Makefile.
var buildSystems = []buildSystem{
	{"configure", "autotools", []string{"host:gcc", "host:make"},
		"./configure --prefix=\"$PREFIX\"\nmake -j\"$JOBS\"\nmake install DESTDIR=\"$DESTDIR\"\n"},
	{"CMakeLists.txt", "cmake", []string{"host:cmake", "host:gcc", "host:make"},
		"cmake -S . -B build -DCMAKE_INSTALL_PREFIX=\"$PREFIX\" -DCMAKE_BUILD_TYPE=Release\ncmake --build build -j \"$JOBS\"\nDESTDIR=\"$DESTDIR\" cmake --install build\n"},
	{"go.mod", "go", []string{"host:go"},
		"CGO_ENABLED=0 go build -trimpath -ldflags \"-s -w -buildid=\" -o \"$DESTDIR/usr/bin/@NAME@\" .\n"},
	{"meson.build", "meson", []string{"host:gcc", "host:meson", "host:ninja"},
		"meson setup build --prefix=\"$PREFIX\"\nmeson compile -C build -j \"$JOBS\"\nDESTDIR=\"$DESTDIR\" meson install -C build\n"},
	{"Makefile", "make", []string{"host:gcc", "host:make"},
		"make -j\"$JOBS\"\nmake install DESTDIR=\"$DESTDIR\" PREFIX=\"$PREFIX\"\n"},
}

// New writes a skeleton recipe dir/NAME.toml for the archive at rawURL
// (http, https or file), for `undistro recipe new NAME --url URL`. It
// downloads the archive with the url source fetcher ([source.URLFetcher]),
// records its sha256, guesses the version from the
// file name and the build system from the files at the top of the archive
// (configure, CMakeLists.txt, go.mod, meson.build, Makefile; the archive
// is read by internal/archive: tar, plain or compressed with gzip, bzip2,
// xz or zstd, or zip, under the source rules), and writes
// the recipe atomically. It never overwrites: an existing recipe is
// [ErrExists]. It returns the path written.
func New(ctx context.Context, name, rawURL, dir string) (string, error) {
	if !recipe.ValidName(name) {
		return "", fmt.Errorf("recipe name %q: use lower-case letters, digits and + . _ - (starting with a letter or digit)", name)
	}
	dst := filepath.Join(dir, name+".toml")
	if _, err := os.Lstat(dst); err == nil {
		return "", fmt.Errorf("writing %s: %w: edit it, or pick another name", dst, ErrExists)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
		return "", fmt.Errorf("url %q: want an http, https or file URL", rawURL)
	}
	tmpDir, err := os.MkdirTemp("", "undistro-new-")
	if err != nil {
		return "", fmt.Errorf("creating download directory: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	file := filepath.Join(tmpDir, "archive")
	sum, err := (&source.URLFetcher{}).Download(ctx, u.String(), file)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	names, err := List(file)
	if err != nil {
		return "", fmt.Errorf("reading archive %s: %w", rawURL, err)
	}
	data := skeleton(name, rawURL, sum, names)
	if _, err := recipe.Parse(dst, data); err != nil {
		return "", fmt.Errorf("writing a skeleton that does not parse (a bug): %w", err)
	}
	if err := writeNew(dst, data); err != nil {
		return "", err
	}
	return dst, nil
}

// List returns the names of the files in the archive at file (a tar,
// plain or compressed, or a zip), with a single top directory stripped, as
// the source fetcher does. Every entry is judged by the source rules of
// internal/archive, so a hostile archive is refused here already. Nothing
// of the archive is written to disk.
func List(file string) ([]string, error) {
	if zr, err := zip.OpenReader(file); err == nil {
		defer zr.Close()
		c, err := archive.NewChecker(rules)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, f := range zr.File {
			h, err := archive.ZipHeader(f)
			if err != nil {
				return nil, err
			}
			e, err := c.Check(h)
			if err != nil {
				return nil, err
			}
			if !e.Skip {
				names = append(names, e.Name)
			}
		}
		return stripTop(names), nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec, _, err := compression.Decompress(f)
	if err != nil {
		return nil, notArchive(err)
	}
	defer dec.Close()
	r, err := archive.NewReader(dec, rules)
	if err != nil {
		return nil, err
	}
	var names []string
	for {
		_, e, err := r.Next()
		if err == io.EOF {
			break
		}
		var re *archive.Error
		if errors.As(err, &re) {
			return nil, err
		}
		if err != nil {
			return nil, notArchive(err)
		}
		names = append(names, e.Name)
	}
	if len(names) == 0 {
		return nil, notArchive(errors.New("no entries"))
	}
	return stripTop(names), nil
}

// rules are the source rules (as builder/source extracts with).
var rules = archive.Rules{RelativeLinksOnly: true, IgnoreSetuid: true, NoSpecialFiles: true, Noun: "archive member"}

func notArchive(err error) error {
	return fmt.Errorf("not a tar (plain, gzip, bzip2, xz or zstd) or zip archive (%v); write the recipe by hand", err)
}

func stripTop(names []string) []string {
	top := ""
	for _, n := range names {
		first, _, _ := strings.Cut(strings.TrimPrefix(n, "./"), "/")
		if top == "" {
			top = first
		}
		if first != top {
			return names
		}
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		_, rest, _ := strings.Cut(strings.TrimPrefix(n, "./"), "/")
		if rest != "" {
			out = append(out, rest)
		}
	}
	return out
}

var versionInName = regexp.MustCompile(`[-_]v?([0-9][0-9A-Za-z.+~]*?)(\.orig)?\.(tar(\.[a-z0-9]+)?|tgz|tbz2|txz|tzst|zip)$`)

func skeleton(name, rawURL, sum string, files []string) []byte {
	version := "0"
	if m := versionInName.FindStringSubmatch(path.Base(rawURL)); m != nil {
		version = m[1]
	}
	top := map[string]bool{}
	for _, f := range files {
		top[strings.TrimSuffix(f, "/")] = true
	}
	sys := buildSystem{name: "unknown", script: "echo \"edit recipes/" + name + ".toml: no build system was recognised\" >&2\nexit 1\n"}
	for _, b := range buildSystems {
		if top[b.marker] {
			sys = b
			break
		}
	}
	var deps []string
	for _, d := range sys.deps {
		deps = append(deps, strconv.Quote(d))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by `undistro recipe new`; check every field.\n")
	fmt.Fprintf(&b, "name = %q\nversion = %q\nrevision = 0\n", name, version)
	fmt.Fprintf(&b, "description = %q\nhomepage = \"\"\nlicense = \"\"\n\n", "TODO: one line about "+name)
	fmt.Fprintf(&b, "[source]\nurl = %q\nsha256 = %q\n\n", rawURL, sum)
	fmt.Fprintf(&b, "[dependencies]\nbuild = [%s]\nrun = []\n\n", strings.Join(deps, ", "))
	fmt.Fprintf(&b, "[build]\n# Build system: %s.\nscript = \"\"\"\n%s\"\"\"\n", sys.name, strings.ReplaceAll(sys.script, "@NAME@", name))
	return []byte(b.String())
}

// writeNew writes data to dst atomically, only if dst does not exist.
func writeNew(dst string, data []byte) error {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := atomicfile.CreateNew(dst, data, 0o644); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("writing %s: %w: edit it, or pick another name", dst, ErrExists)
		}
		return err
	}
	return nil
}
