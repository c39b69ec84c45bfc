package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/un-distro/undistro/builder/recipe"
)

// URLFetcher fetches url sources over http, https or file, checks their
// sha256 while downloading, and extracts archives with Extract.
type URLFetcher struct {
	// Client is used for http and https; nil means http.DefaultClient.
	Client *http.Client
}

var _ Fetcher = (*URLFetcher)(nil)

// Fetch downloads s.URL next to dst, checks its sha256 against s.SHA256
// (a *MismatchError when they differ) and extracts it into dst.
func (u *URLFetcher) Fetch(ctx context.Context, s recipe.Source, dst string) (string, error) {
	id, err := urlIdentity(s)
	if err != nil {
		return "", err
	}
	dl, err := os.MkdirTemp(filepath.Dir(dst), ".download-")
	if err != nil {
		return "", fmt.Errorf("creating download directory: %w", err)
	}
	defer os.RemoveAll(dl)
	file := filepath.Join(dl, downloadName(s.URL))
	got, err := u.download(ctx, s.URL, file)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", s.URL, err)
	}
	if "sha256:"+got != id {
		return "", &MismatchError{Want: id, Got: "sha256:" + got, Source: s.URL, Key: "sha256"}
	}
	if err := Extract(ctx, file, dst); err != nil {
		return "", err
	}
	return id, nil
}

// Download copies the content of rawURL (http, https or file) to file,
// which must not exist, and returns its sha256 in hex. It checks nothing:
// Fetch compares the sum with the recipe's; `recipe new` records it.
func (u *URLFetcher) Download(ctx context.Context, rawURL, file string) (string, error) {
	return u.download(ctx, rawURL, file)
}

// download copies the URL's content to file and returns its sha256 hex.
func (u *URLFetcher) download(ctx context.Context, rawURL, file string) (string, error) {
	body, err := u.open(ctx, rawURL)
	if err != nil {
		return "", err
	}
	defer body.Close()
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), body); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (u *URLFetcher) open(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	pu, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if pu.Scheme == "file" {
		return os.Open(pu.Path)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	client := u.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("server answered %s", resp.Status)
	}
	return resp.Body, nil
}

// downloadName is the file name a URL is saved under; its suffix selects
// the archive format.
func downloadName(rawURL string) string {
	name := "source"
	if pu, err := url.Parse(rawURL); err == nil {
		if b := path.Base(pu.Path); b != "." && b != "/" && b != "" {
			name = b
		}
	}
	if strings.HasPrefix(name, ".") {
		name = "source" + name
	}
	return name
}
