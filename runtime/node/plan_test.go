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

// TestDiffDerived: restarts follow the derived packages and files, a
// reload-declared service whose files alone changed is reloaded, and the
// plan lists the files and packages that change.
func TestDiffDerived(t *testing.T) {
	base := func() *imagespec.Image {
		return &imagespec.Image{
			Packages: []imagespec.Package{{Name: "web", DiffID: "sha256:1", Version: "1"}, {Name: "libssl", DiffID: "sha256:2", Version: "3.0"}, {Name: "sh", DiffID: "sha256:3"}},
			Files:    []imagespec.File{{Path: "/etc/web.conf", SHA256: "sha256:a"}, {Path: "/etc/motd", SHA256: "sha256:m"}},
			Services: []imagespec.Service{
				{Name: "web", Package: "web", Packages: []string{"libssl", "web"}, Files: []string{"/etc/web.conf"}, Restart: "always"},
				{Name: "hup", Package: "sh", Packages: []string{"sh"}, Files: []string{"/etc/web.conf"}, Reload: &imagespec.Reload{Signal: "SIGHUP"}, Restart: "always"},
				{Name: "other", Package: "sh", Packages: []string{"sh"}, Restart: "always"},
			},
		}
	}
	tests := []struct {
		name                   string
		change                 func(*imagespec.Image)
		restart, reload, files string
		reasons                map[string]string
	}{
		{name: "run dependency", change: func(i *imagespec.Image) { i.Packages[1].DiffID = "sha256:9"; i.Packages[1].Version = "3.1" },
			restart: "web", reasons: map[string]string{"web": "package libssl changed"}},
		{name: "config file: restart one, reload the other", change: func(i *imagespec.Image) { i.Files[0].SHA256 = "sha256:b" },
			restart: "web", reload: "hup", files: "change /etc/web.conf hup,web",
			reasons: map[string]string{"web": "file /etc/web.conf changed", "hup": "file /etc/web.conf changed"}},
		{name: "file nobody reads", change: func(i *imagespec.Image) { i.Files[1].SHA256 = "sha256:n" }, files: "change /etc/motd "},
		{name: "file added", change: func(i *imagespec.Image) { i.Files = append(i.Files, imagespec.File{Path: "/etc/new"}) }, files: "add /etc/new "},
		{name: "package and file: restart even with reload", change: func(i *imagespec.Image) { i.Files[0].SHA256 = "sha256:b"; i.Packages[2].DiffID = "sha256:8" },
			restart: "hup,other,web", files: "change /etc/web.conf hup,web",
			reasons: map[string]string{"web": "file /etc/web.conf changed", "hup": "package sh changed", "other": "package sh changed"}},
		{name: "reload declared only now: restart", change: func(i *imagespec.Image) {
			i.Files[0].SHA256 = "sha256:b"
			i.Services[0].Reload = &imagespec.Reload{Signal: "SIGHUP"}
		}, restart: "web", reload: "hup", files: "change /etc/web.conf hup,web",
			reasons: map[string]string{"web": "definition changed", "hup": "file /etc/web.conf changed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nw := base()
			tc.change(nw)
			p := Diff(base(), nw)
			var files []string
			for _, f := range p.Files {
				files = append(files, f.Change+" "+f.Path+" "+strings.Join(f.Services, ","))
			}
			if got := strings.Join(p.Restart, ","); got != tc.restart {
				t.Errorf("restart = %q, want %q", got, tc.restart)
			}
			if got := strings.Join(p.Reload, ","); got != tc.reload {
				t.Errorf("reload = %q, want %q", got, tc.reload)
			}
			if got := strings.Join(files, ";"); got != tc.files {
				t.Errorf("files = %q, want %q", got, tc.files)
			}
			for name, want := range tc.reasons {
				if p.Reasons[name] != want {
					t.Errorf("reason of %s = %q, want %q", name, p.Reasons[name], want)
				}
			}
		})
	}
}

// TestPlanPrint: a dry run names each service's reason, the files and the
// packages that change.
func TestPlanPrint(t *testing.T) {
	old := &imagespec.Image{
		Packages: []imagespec.Package{{Name: "web", Version: "1", DiffID: "sha256:1"}, {Name: "libssl", Version: "3.0", DiffID: "sha256:2"}},
		Files:    []imagespec.File{{Path: "/etc/web.conf", SHA256: "sha256:a"}, {Path: "/etc/old", SHA256: "sha256:o"}},
		Services: []imagespec.Service{
			{Name: "web", Packages: []string{"libssl", "web"}, Restart: "always"},
			{Name: "hup", Files: []string{"/etc/web.conf"}, Reload: &imagespec.Reload{Signal: "SIGHUP"}, Restart: "always"},
		},
	}
	nw := &imagespec.Image{
		Packages: []imagespec.Package{{Name: "web", Version: "1", DiffID: "sha256:1"}, {Name: "libssl", Version: "3.1", DiffID: "sha256:9"}},
		Files:    []imagespec.File{{Path: "/etc/web.conf", SHA256: "sha256:b"}},
		Services: old.Services,
	}
	p := Diff(old, nw)
	p.From, p.To, p.DryRun = "sha256:aaaaaaaaaaaaaaaaaaaa", "sha256:bbbbbbbbbbbbbbbbbbbb", true
	var b bytes.Buffer
	p.Print(&b)
	want := `would switch sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb
  restart:  web (package libssl changed)
  reload:   hup (file /etc/web.conf changed)
  file remove /etc/old
  file change /etc/web.conf (read by hup)
  package change libssl 3.0 -> 3.1
`
	if b.String() != want {
		t.Fatalf("printed\n%s\nwant\n%s", b.String(), want)
	}
}
