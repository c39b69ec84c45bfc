package node

import (
	"bytes"
	"strings"
	"testing"

	"github.com/un-distro/undistro/runtime/imagespec"
)

func TestDiff(t *testing.T) {
	base := func() *imagespec.Image {
		return &imagespec.Image{
			Packages: []imagespec.Package{{Name: "whoami", DiffID: "sha256:1"}, {Name: "busybox", DiffID: "sha256:2"}},
			Files:    []imagespec.File{{Path: "/etc/w.conf", SHA256: "sha256:a", Mode: 0o644}},
			Users:    []imagespec.User{{Name: "www", UID: 100, GID: 100}},
			Services: []imagespec.Service{
				{Name: "w", Package: "whoami", Exec: []string{"/bin/whoami"}, User: "www", Files: []string{"/etc/w.conf"}, Restart: "always"},
				{Name: "sh", Package: "busybox", Exec: []string{"/bin/sh"}, Restart: "always"},
			},
		}
	}
	tests := []struct {
		name   string
		change func(*imagespec.Image)
		want   string // "w" restart reason; "" for unchanged
	}{
		{"nothing", func(*imagespec.Image) {}, ""},
		{"empty env is no env", func(i *imagespec.Image) { i.Services[0].Env = []string{} }, ""},
		{"unrelated package", func(i *imagespec.Image) {
			i.Packages = append(i.Packages, imagespec.Package{Name: "x", DiffID: "sha256:4"})
		}, ""},
		{"exec", func(i *imagespec.Image) { i.Services[0].Exec = []string{"/bin/whoami", "-v"} }, "definition changed"},
		{"env", func(i *imagespec.Image) { i.Services[0].Env = []string{"A=1"} }, "definition changed"},
		{"ready", func(i *imagespec.Image) { i.Services[0].Ready = &imagespec.Ready{TCP: ":80"} }, "definition changed"},
		{"config file", func(i *imagespec.Image) { i.Files[0].SHA256 = "sha256:b" }, "file /etc/w.conf changed"},
		{"config file mode", func(i *imagespec.Image) { i.Files[0].Mode = 0o600 }, "file /etc/w.conf changed"},
		{"config file gone", func(i *imagespec.Image) { i.Files = nil }, "file /etc/w.conf changed"},
		{"package layer", func(i *imagespec.Image) { i.Packages[0].DiffID = "sha256:9" }, "package whoami changed"},
		{"user", func(i *imagespec.Image) { i.Users[0].UID = 101 }, "user www changed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nw := base()
			tc.change(nw)
			p := Diff(base(), nw)
			if tc.want == "" {
				if !p.Empty() || strings.Join(p.Unchanged, ",") != "sh,w" {
					t.Fatalf("plan = %+v, want nothing to do", p)
				}
				return
			}
			if strings.Join(p.Restart, ",") != "w" || p.Reasons["w"] != tc.want || strings.Join(p.Unchanged, ",") != "sh" {
				t.Fatalf("plan = %+v, want w restarted: %s", p, tc.want)
			}
		})
	}
	t.Run("first switch", func(t *testing.T) {
		p := Diff(nil, base())
		p.To = "sha256:0123456789abcdef0123"
		var b bytes.Buffer
		p.Print(&b)
		want := "switched (nothing) -> sha256:0123456789ab\n  start:    sh, w\n"
		if b.String() != want {
			t.Fatalf("printed\n%q, want\n%q", b.String(), want)
		}
	})
}
