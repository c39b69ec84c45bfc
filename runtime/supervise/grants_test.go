package supervise

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// TestGrantsBusybox checks the grants a shell can observe: read_write_paths
// is the service user's and persists across starts while the rest of the
// root stays read-only; tmp_size and run_size bound /tmp and /run;
// network "none" leaves loopback down where the default brings it up.
func TestGrantsBusybox(t *testing.T) {
	root := busyboxRoot(t, append([]string{"var/lib/app"}, sandboxDirs...)...)
	logs, state := t.TempDir(), t.TempDir()
	s := newSup(t, Options{Root: root, Chroot: true, LogDir: logs, StateDir: state,
		Users: []imagespec.User{{Name: "svc", UID: 1234, GID: 1234}, {Name: "root"}}})
	const script = `echo run >> /var/lib/app/count || echo state=unwritable
head -c 2097152 /dev/zero > /tmp/big && echo tmp=unbounded || echo tmp=full
head -c 1048576 /dev/zero > /run/big && echo run=unbounded || echo run=full
touch /etc/x 2>/dev/null && echo etc=writable || echo etc=readonly
/bin/busybox ip -o link show lo | grep -q '[<,]UP[,>]' && echo lo=up || echo lo=down`
	svc := func(name, user string, sb imagespec.Sandbox) imagespec.Service {
		return imagespec.Service{Name: name, User: user, Exec: []string{"/bin/sh", "-c", script}, Restart: imagespec.RestartNever, Sandbox: sb}
	}
	// /run is root's (mode 0755): root services show run_size.
	svcs := []imagespec.Service{
		svc("granted", "svc", imagespec.Sandbox{ReadWritePaths: []string{"/var/lib/app"}, TmpSize: 1 << 20, Network: imagespec.NetworkNone}),
		svc("plain", "svc", imagespec.Sandbox{}),
		svc("rootrun", "root", imagespec.Sandbox{RunSize: 512 << 10}),
		svc("rootplain", "root", imagespec.Sandbox{}),
	}
	ctx := context.Background()
	for range 2 { // twice: the state persists across starts
		if err := s.Start(ctx, svcs); err != nil {
			t.Fatal(err)
		}
		for _, sv := range svcs {
			waitState(t, s, sv.Name, StateStopped)
		}
	}
	out := func(name string) string {
		b, err := os.ReadFile(LogPath(logs, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for name, want := range map[string][]string{
		"granted":   {"tmp=full", "etc=readonly", "lo=down"},
		"plain":     {"state=unwritable", "tmp=unbounded", "etc=readonly", "lo=up"},
		"rootrun":   {"run=full", "etc=readonly"},
		"rootplain": {"run=unbounded", "etc=readonly"},
	} {
		got := out(name)
		for _, w := range want {
			if !strings.Contains(got, w+"\n") {
				t.Errorf("%s said:\n%s\nwant %s", name, got, w)
			}
		}
	}
	// Full, not refused: the file was created, the write ran out of room.
	for name, dir := range map[string]string{"rootrun": "/run", "granted": "/tmp"} {
		if got := out(name); strings.Contains(got, "can't create "+dir) {
			t.Errorf("%s could not create a file in %s at all:\n%s", name, dir, got)
		}
	}
	if got := out("granted"); strings.Contains(got, "unwritable") {
		t.Errorf("granted could not write its read_write_paths:\n%s", got)
	}
	count := filepath.Join(state, "granted", "var/lib/app", "count")
	b, err := os.ReadFile(count)
	if err != nil || string(b) != "run\nrun\n" {
		t.Errorf("state file %s holds %q (%v), want a line per start", count, b, err)
	}
	for _, p := range []string{count, filepath.Dir(count)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1234 || st.Gid != 1234 {
			t.Errorf("%s owned by %d:%d, want the service's user 1234:1234", p, st.Uid, st.Gid)
		}
	}
	if sb := status(t, s, "granted").Sandbox; sb == nil || sb.TmpSize != 1<<20 || sb.RunSize != imagespec.DefaultRunSize || sb.Network != "none" ||
		strings.Join(sb.Namespaces, ",") != "mount,pid,ipc,uts,net" || strings.Join(sb.ReadWritePaths, ",") != "/var/lib/app" {
		t.Errorf("status sandbox %+v", sb)
	}
}
