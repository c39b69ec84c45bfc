package source

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/un-distro/undistro/builder/recipe"
)

// urlIdentity checks a url source and returns "sha256:<hex>".
func urlIdentity(s recipe.Source) (string, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return "", fmt.Errorf("%w: url %q: %v", ErrBadSource, s.URL, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return "", fmt.Errorf("%w: url %q has no host", ErrBadSource, s.URL)
		}
	case "file":
		if !strings.HasPrefix(u.Path, "/") {
			return "", fmt.Errorf("%w: url %q: a file URL needs an absolute path (file:///dir/name)", ErrBadSource, s.URL)
		}
	default:
		return "", fmt.Errorf("%w: url %q: scheme %q is not http, https or file", ErrBadSource, s.URL, u.Scheme)
	}
	sum, err := checkSHA256(s.SHA256, "url")
	if err != nil {
		return "", err
	}
	return "sha256:" + sum, nil
}

func gitIdentity(s recipe.Source) (string, error) {
	c := strings.ToLower(s.Commit)
	if c == "" {
		return "", fmt.Errorf("%w: git source %q has no commit; add commit = \"<40 hex digits>\" (git rev-parse HEAD)", ErrBadSource, s.Git)
	}
	if len(c) != 40 || !isHex(c) {
		return "", fmt.Errorf("%w: commit %q is not a full 40-hex-digit commit hash; use `git rev-parse %s`", ErrBadSource, s.Commit, s.Commit)
	}
	return "git:" + c, nil
}

func gomodIdentity(s recipe.Source) (string, error) {
	mod, ver, ok := strings.Cut(s.GoMod, "@")
	if !ok || mod == "" || ver == "" || strings.ContainsAny(s.GoMod, " \t\n") {
		return "", fmt.Errorf("%w: gomod %q is not module@version", ErrBadSource, s.GoMod)
	}
	if s.Sum == "" {
		return "", fmt.Errorf("%w: gomod %q has no sum; add sum = \"h1:…\" from go.sum (the line without /go.mod)", ErrBadSource, s.GoMod)
	}
	if !strings.HasPrefix(s.Sum, "h1:") || strings.ContainsAny(s.Sum, " \t\n") {
		return "", fmt.Errorf("%w: sum %q for %s is not an h1: hash as in go.sum", ErrBadSource, s.Sum, s.GoMod)
	}
	return "gomod:" + s.GoMod + " " + s.Sum, nil
}

func debIdentity(s recipe.Source) (string, error) {
	if err := checkDebName(s.Deb, s.Version, "deb"); err != nil {
		return "", err
	}
	sum, err := checkSHA256(s.SHA256, "deb "+s.Deb)
	if err != nil {
		return "", err
	}
	return "sha256:" + sum, nil
}

func debsrcIdentity(s recipe.Source) (string, error) {
	if err := checkDebName(s.DebSrc, s.Version, "debsrc"); err != nil {
		return "", err
	}
	return "debsrc:" + s.DebSrc + "=" + s.Version, nil
}

func checkDebName(name, version, kind string) error {
	if strings.ContainsAny(name, " \t\n=/") || strings.HasPrefix(name, "-") {
		return fmt.Errorf("%w: %s %q is not a Debian package name", ErrBadSource, kind, name)
	}
	if version == "" {
		return fmt.Errorf("%w: %s %q has no version; add version = \"…\" (apt-cache policy %s)", ErrBadSource, kind, name, name)
	}
	if strings.ContainsAny(version, " \t\n=/") || strings.HasPrefix(version, "-") {
		return fmt.Errorf("%w: %s %q: version %q is not a Debian version", ErrBadSource, kind, name, version)
	}
	return nil
}

func checkSHA256(sum, what string) (string, error) {
	if sum == "" {
		return "", fmt.Errorf("%w: %s source has no sha256; add sha256 = \"<64 hex digits>\" (sha256sum FILE)", ErrBadSource, what)
	}
	l := strings.ToLower(sum)
	if len(l) != 64 || !isHex(l) {
		return "", fmt.Errorf("%w: sha256 %q is not 64 hex digits; use the output of sha256sum FILE", ErrBadSource, sum)
	}
	return l, nil
}

func isHex(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
