package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/un-distro/undistro/builder/layer"
	"github.com/un-distro/undistro/builder/role"
)

// accounts renders /etc/passwd and /etc/group for the role's declared users
// and groups into tmp and returns them as files for the role's layer.
func accounts(tmp string, r *role.Role) ([]layer.File, error) {
	if len(r.Users) == 0 && len(r.Groups) == 0 {
		return nil, nil
	}
	var passwd, group strings.Builder
	for _, u := range r.Users {
		home, shell := u.Home, u.Shell
		if home == "" {
			home = "/"
		}
		if shell == "" {
			shell = "/bin/false"
		}
		fmt.Fprintf(&passwd, "%s:x:%d:%d::%s:%s\n", u.Name, u.UID, u.GID, home, shell)
	}
	for _, g := range r.Groups {
		var members []string
		for _, u := range r.Users {
			for _, ug := range u.Groups {
				if ug == g.Name {
					members = append(members, u.Name)
				}
			}
		}
		fmt.Fprintf(&group, "%s:x:%d:%s\n", g.Name, g.GID, strings.Join(members, ","))
	}
	var out []layer.File
	for _, f := range []struct{ path, body string }{{"/etc/passwd", passwd.String()}, {"/etc/group", group.String()}} {
		src := filepath.Join(tmp, r.Name+"-"+filepath.Base(f.path))
		if err := os.WriteFile(src, []byte(f.body), 0o644); err != nil {
			return nil, err
		}
		out = append(out, layer.File{Path: f.path, Source: src, Mode: 0o644})
	}
	return out, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
