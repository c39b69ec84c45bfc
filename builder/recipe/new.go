package recipe

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

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
// downloads the archive, records its sha256, guesses the version from the
// file name and the build system from the files at the top of the archive
// (configure, CMakeLists.txt, go.mod, meson.build, Makefile), and writes
// the recipe atomically. It never overwrites: an existing recipe is
// [ErrExists]. It returns the path written.
func New(ctx context.Context, name, rawURL, dir string) (string, error) {
	if !ValidName(name) {
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
	tmp, err := os.CreateTemp("", "undistro-new-*")
	if err != nil {
		return "", fmt.Errorf("creating download file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if err := download(ctx, u, io.MultiWriter(tmp, h)); err != nil {
		return "", fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	names, err := listArchive(tmp, path.Base(u.Path))
	if err != nil {
		return "", fmt.Errorf("reading archive %s: %w", rawURL, err)
	}
	data := skeleton(name, rawURL, sum, names)
	if _, err := Parse(dst, data); err != nil {
		return "", fmt.Errorf("writing a skeleton that does not parse (a bug): %w", err)
	}
	if err := writeNew(dst, data); err != nil {
		return "", err
	}
	return dst, nil
}

func download(ctx context.Context, u *url.URL, w io.Writer) error {
	if u.Scheme == "file" {
		f, err := os.Open(u.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %s", resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// listArchive returns the names of the files in the archive f, with a
// single top directory stripped, as the source fetcher does. It only
// reads names: nothing of the archive is written to disk.
func listArchive(f *os.File, base string) ([]string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var names []string
	if strings.HasSuffix(base, ".zip") {
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		zr, err := zip.NewReader(f, fi.Size())
		if err != nil {
			return nil, err
		}
		for _, zf := range zr.File {
			names = append(names, zf.Name)
		}
		return stripTop(names), nil
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(3)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		r = zr
	case bytes.HasPrefix(magic, []byte("BZh")):
		r = bzip2.NewReader(br)
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not a tar, tar.gz, tar.bz2 or zip archive (%w); write the recipe by hand", err)
		}
		names = append(names, hdr.Name)
	}
	return stripTop(names), nil
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

var versionInName = regexp.MustCompile(`[-_]v?([0-9][0-9A-Za-z.+~]*?)(\.orig)?\.(tar(\.[a-z0-9]+)?|tgz|tbz2|zip)$`)

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
