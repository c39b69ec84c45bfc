package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/atomicfile"
)

// DebSrcFetcher fetches a Debian source package with `apt-get source
// --download-only` through a private apt setup under AptDir, whose
// deb-src entries are derived from the machine's deb entries (/etc is
// never modified). apt verifies the .dsc against the signed Sources
// index; Fetch then checks every file the .dsc lists in Checksums-Sha256
// and unpacks the package with dpkg-source.
type DebSrcFetcher struct {
	// AptDir holds the private apt setup (sources.list, lists, cache).
	AptDir string
	// EtcApt is the apt configuration the deb entries are read from;
	// empty means /etc/apt.
	EtcApt string
}

var _ Fetcher = (*DebSrcFetcher)(nil)

// dscFile is one file listed in a .dsc's Checksums-Sha256 field.
type dscFile struct {
	sha256 string
	size   int64
	name   string
}

// Fetch downloads s.DebSrc at s.Version, verifies it and unpacks it as dst.
func (d *DebSrcFetcher) Fetch(ctx context.Context, s recipe.Source, dst string) (string, error) {
	id, err := debsrcIdentity(s)
	if err != nil {
		return "", err
	}
	for _, t := range [][2]string{{"apt-get", "apt"}, {"dpkg-source", "dpkg-dev"}} {
		if err := need(t[0], t[1]); err != nil {
			return "", err
		}
	}
	dl, err := os.MkdirTemp(filepath.Dir(dst), ".debsrc-")
	if err != nil {
		return "", fmt.Errorf("creating download directory: %w", err)
	}
	pkg := s.DebSrc + "=" + s.Version
	if err := d.download(ctx, pkg, dl); err != nil {
		return "", err
	}
	dsc, err := findDsc(dl, s.DebSrc)
	if err != nil {
		return "", fmt.Errorf("apt-get source %s: %w", pkg, err)
	}
	if err := verifyDsc(dsc); err != nil {
		return "", fmt.Errorf("verifying %s: %w", pkg, err)
	}
	out := filepath.Join(dl, "src")
	if _, err := run(ctx, dl, aptEnv(), "dpkg-source", "--no-check", "-x", dsc, out); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", filepath.Base(dsc), err)
	}
	if err := os.Rename(out, dst); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", filepath.Base(dsc), err)
	}
	return id, nil
}

// download runs apt-get source under the private setup, holding its lock;
// it refreshes the private lists when they are missing, or once when the
// package is not found in them.
func (d *DebSrcFetcher) download(ctx context.Context, pkg, dl string) error {
	if err := os.MkdirAll(d.AptDir, 0o755); err != nil {
		return fmt.Errorf("creating private apt setup: %w", err)
	}
	unlock, err := lockFile(filepath.Join(d.AptDir, ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	fresh, err := d.setup(ctx)
	if err != nil {
		return err
	}
	args := append(d.aptOpts(), "source", "--download-only", "-q", pkg)
	_, err = run(ctx, dl, aptEnv(), "apt-get", args...)
	if err != nil && !fresh {
		if uerr := d.update(ctx); uerr != nil {
			return fmt.Errorf("apt-get source %s: %w (refreshing the lists: %v)", pkg, err, uerr)
		}
		_, err = run(ctx, dl, aptEnv(), "apt-get", args...)
	}
	if err != nil {
		return aptHint(fmt.Errorf("apt-get source %s: %w", pkg, err), pkg,
			"`apt-get update` (the private lists under "+d.AptDir+" are refreshed once automatically)")
	}
	return nil
}

// setup writes the private sources.list and fetches the lists when they
// are missing or the sources changed; it reports whether it updated.
func (d *DebSrcFetcher) setup(ctx context.Context) (bool, error) {
	for _, sub := range []string{"lists/partial", "cache/archives/partial", "keys"} {
		if err := os.MkdirAll(filepath.Join(d.AptDir, sub), 0o755); err != nil {
			return false, fmt.Errorf("creating private apt setup: %w", err)
		}
	}
	etc := d.EtcApt
	if etc == "" {
		etc = "/etc/apt"
	}
	list, err := debSrcList(etc, filepath.Join(d.AptDir, "keys", "inline"))
	if err != nil {
		return false, err
	}
	name := filepath.Join(d.AptDir, "sources.list")
	old, _ := os.ReadFile(name)
	changed := !bytes.Equal(old, list)
	if changed {
		if err := atomicfile.WriteFile(name, list, 0o600); err != nil {
			return false, err
		}
	}
	lists, _ := filepath.Glob(filepath.Join(d.AptDir, "lists", "*_Sources*"))
	if !changed && len(lists) > 0 {
		return false, nil
	}
	return true, d.update(ctx)
}

// update runs apt-get update on the private setup. Some repositories
// carry no sources; their failures are tolerated when others succeed.
func (d *DebSrcFetcher) update(ctx context.Context) error {
	_, err := run(ctx, d.AptDir, aptEnv(), "apt-get", append(d.aptOpts(), "update", "-q")...)
	if err != nil {
		lists, _ := filepath.Glob(filepath.Join(d.AptDir, "lists", "*_Sources*"))
		if len(lists) == 0 {
			return fmt.Errorf("fetching the Sources lists: %w", err)
		}
	}
	return nil
}

func (d *DebSrcFetcher) aptOpts() []string {
	return []string{
		"-o", "Dir::Etc::SourceList=" + filepath.Join(d.AptDir, "sources.list"),
		"-o", "Dir::Etc::SourceParts=/dev/null",
		"-o", "Dir::State::Lists=" + filepath.Join(d.AptDir, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(d.AptDir, "cache"),
	}
}

func findDsc(dir, pkg string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.dsc"))
	if len(m) != 1 {
		return "", fmt.Errorf("expected one %s_*.dsc, found %d", pkg, len(m))
	}
	return m[0], nil
}

// verifyDsc checks every file the .dsc lists in Checksums-Sha256.
func verifyDsc(dsc string) error {
	data, err := os.ReadFile(dsc)
	if err != nil {
		return err
	}
	files, err := parseDsc(data)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(dsc), err)
	}
	dir := filepath.Dir(dsc)
	for _, f := range files {
		name := filepath.Join(dir, f.name)
		fi, err := os.Stat(name)
		if err != nil {
			return fmt.Errorf("%s lists %s: %w", filepath.Base(dsc), f.name, err)
		}
		got, err := sha256File(name)
		if err != nil {
			return err
		}
		if got != f.sha256 || fi.Size() != f.size {
			return fmt.Errorf("%w for %s: %s says sha256:%s (%d bytes), downloaded sha256:%s (%d bytes); the mirror served a corrupt or tampered file, nothing was kept",
				ErrChecksumMismatch, f.name, filepath.Base(dsc), f.sha256, f.size, got, fi.Size())
		}
	}
	return nil
}

// parseDsc reads the Checksums-Sha256 field of a (possibly clear-signed)
// .dsc. File names must be plain names in the .dsc's directory.
func parseDsc(data []byte) ([]dscFile, error) {
	var files []dscFile
	in, found := false, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "-----BEGIN PGP SIGNATURE") {
			break
		}
		if in && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			f := strings.Fields(l)
			if len(f) != 3 {
				return nil, fmt.Errorf("malformed Checksums-Sha256 line %q", strings.TrimSpace(l))
			}
			size, err := strconv.ParseInt(f[1], 10, 64)
			sum := strings.ToLower(f[0])
			if err != nil || len(sum) != 64 || !isHex(sum) {
				return nil, fmt.Errorf("malformed Checksums-Sha256 line %q", strings.TrimSpace(l))
			}
			if f[2] != filepath.Base(f[2]) || f[2] == "." || f[2] == ".." {
				return nil, fmt.Errorf("%w: file name %q is not a plain name", ErrUnsafeArchive, f[2])
			}
			files = append(files, dscFile{sha256: sum, size: size, name: f[2]})
			continue
		}
		in = false
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Checksums-Sha256") {
			in, found = true, true
		}
	}
	if !found || len(files) == 0 {
		return nil, errors.New("no Checksums-Sha256 field")
	}
	return files, nil
}

// lockFile takes an exclusive flock on name (creating it), shared with
// other processes using the same cache.
func lockFile(name string) (func(), error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}
