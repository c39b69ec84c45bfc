package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/un-distro/undistro/builder/recipe"
)

// DebFetcher fetches a Debian binary package with `apt-get download`,
// through the machine's apt configuration, checks the .deb's sha256 and
// unpacks its data with `dpkg-deb -x`.
type DebFetcher struct{}

var _ Fetcher = (*DebFetcher)(nil)

// Fetch downloads s.Deb at s.Version, checks it against s.SHA256 (a
// *MismatchError when they differ) and unpacks it into dst.
func (d *DebFetcher) Fetch(ctx context.Context, s recipe.Source, dst string) (string, error) {
	id, err := debIdentity(s)
	if err != nil {
		return "", err
	}
	if err := need("apt-get", "apt"); err != nil {
		return "", err
	}
	if err := need("dpkg-deb", "dpkg"); err != nil {
		return "", err
	}
	dl, err := os.MkdirTemp(filepath.Dir(dst), ".deb-")
	if err != nil {
		return "", fmt.Errorf("creating download directory: %w", err)
	}
	pkg := s.Deb + "=" + s.Version
	if _, err := run(ctx, dl, aptEnv(), "apt-get", "download", "-q", pkg); err != nil {
		return "", aptHint(err, pkg, "apt-get update")
	}
	file, err := onlyFile(dl, "*.deb")
	if err != nil {
		return "", fmt.Errorf("apt-get download %s: %w", pkg, err)
	}
	got, err := sha256File(file)
	if err != nil {
		return "", err
	}
	if "sha256:"+got != id {
		return "", &MismatchError{Want: id, Got: "sha256:" + got, Source: "deb:" + pkg, Key: "sha256"}
	}
	if _, err := run(ctx, dl, nil, "dpkg-deb", "-x", file, dst); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", filepath.Base(file), err)
	}
	return id, nil
}

// aptEnv is the environment for apt: untranslated messages, no prompts.
func aptEnv() []string {
	return append(environWithout("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES"),
		"LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
}

// aptHint adds what to do to apt's "cannot find" errors.
func aptHint(err error, pkg, fix string) error {
	msg := err.Error()
	if strings.Contains(msg, "Unable to locate") || strings.Contains(msg, "Unable to find") ||
		strings.Contains(msg, "was not found") || strings.Contains(msg, "Can not find version") {
		return fmt.Errorf("%w; the package lists may be stale or lack %s: run %s, and check the version with apt-cache policy/showsrc", err, pkg, fix)
	}
	return err
}

func onlyFile(dir, pattern string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return "", err
	}
	if len(m) != 1 {
		return "", fmt.Errorf("expected one %s file, found %d", pattern, len(m))
	}
	return m[0], nil
}

func sha256File(name string) (string, error) {
	h := sha256.New()
	if err := hashFile(name, h); err != nil {
		return "", fmt.Errorf("hashing %s: %w", filepath.Base(name), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
