package drift

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/runtime/etcmerge"
	"github.com/un-distro/undistro/runtime/imagespec"
)

const (
	conf  = "/etc/app/app.conf"
	other = "/etc/other.conf"
	base  = "listen = 80\nworkers = 2\nlog = info\n"
)

// node installs a base /etc with two role files and returns its root.
func node(t *testing.T, drift string) string {
	t.Helper()
	root := t.TempDir()
	e := etcmerge.Open(root)
	want := map[string]etcmerge.Item{
		conf:  etcmerge.NewItem(etcmerge.Entry{Path: conf, Mode: 0o644, Source: "images/web/app.conf"}, []byte(base)),
		other: etcmerge.NewItem(etcmerge.Entry{Path: other, Mode: 0o644, Source: "images/base/other.conf"}, []byte("a\n")),
	}
	m, err := e.Plan(want, imagespec.ConfigPolicy{Drift: drift})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(context.Background(), m, "A"); err != nil {
		t.Fatal(err)
	}
	return root
}

// track starts a tracker on root and returns it once it watches.
func track(t *testing.T, root string, opts ...Option) *Tracker {
	t.Helper()
	tr, err := NewTracker(t.Context(), root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	testsupport.Background(t, "tracker", tr.Run)
	return tr
}

func recorded(t *testing.T, root, p string) *Record {
	t.Helper()
	var rec *Record
	testsupport.WaitFor(t, 10*time.Second, "the edit of "+p+" recorded", func() bool {
		l, err := ReadLog(root)
		if err != nil {
			t.Fatal(err)
		}
		rec = l.Files[p]
		return rec != nil
	})
	return rec
}

func TestEditIsRecordedByTheInotifyEvent(t *testing.T) {
	root := node(t, "")
	e := etcmerge.Open(root)
	// An edit made before the tracker runs is not found: nothing scans.
	if err := os.WriteFile(e.Live(other), []byte("edited while no daemon ran\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := track(t, root)
	if tr.Watched() != 2 {
		t.Fatalf("watching %d directories, want 2 (/etc and /etc/app)", tr.Watched())
	}
	// The edit, by another process so that fanotify can name it.
	cmd := exec.Command("sh", "-c", `printf 'listen = 8080\nworkers = 2\nlog = info\n' > "$0"`, e.Live(conf))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rec := recorded(t, root, conf)
	if rec.Event != "IN_CLOSE_WRITE" || rec.Seq == 0 || rec.Action != Reported || time.Since(rec.Time) > time.Minute {
		t.Fatalf("record %+v: want the IN_CLOSE_WRITE event that recorded it", rec)
	}
	if why := tr.Processes(); why == "" {
		// fanotify attribution may land just after the record.
		testsupport.WaitFor(t, 10*time.Second, "the writer attributed", func() bool {
			rec = recorded(t, root, conf)
			return rec.PID != 0
		})
		if rec.PID != cmd.Process.Pid || !strings.HasPrefix(rec.Process, "sh") && rec.Process != "" {
			t.Fatalf("record %+v: want pid %d (sh)", rec, cmd.Process.Pid)
		}
		t.Logf("this host gives the writing process through fanotify: pid %d %q", rec.PID, rec.Process)
	} else {
		t.Logf("this host gives no writing process: %s", why)
	}
	files, err := Report(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Path != conf {
		t.Fatalf("drift report %+v: want only %s (the edit made with no tracker running is not scanned for)", files, conf)
	}
	want := "--- a/etc/app/app.conf\n+++ b/etc/app/app.conf\n@@ -1,3 +1,3 @@\n-listen = 80\n+listen = 8080\n workers = 2\n log = info\n"
	if files[0].Diff != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", files[0].Diff, want)
	}
	// Undoing the edit clears the drift.
	if err := os.WriteFile(e.Live(conf), []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 10*time.Second, "the undone edit cleared", func() bool {
		l, _ := ReadLog(root)
		return l.Files[conf] == nil
	})
}

func TestRenameOverIsRecorded(t *testing.T) {
	root := node(t, "")
	e := etcmerge.Open(root)
	track(t, root, WithoutFanotify())
	tmp := filepath.Join(filepath.Dir(e.Live(conf)), ".app.conf.swp")
	if err := os.WriteFile(tmp, []byte("listen = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, e.Live(conf)); err != nil {
		t.Fatal(err)
	}
	if rec := recorded(t, root, conf); rec.Event != "IN_MOVED_TO" {
		t.Fatalf("record %+v: want IN_MOVED_TO", rec)
	}
}

func TestRevertRestoresTheFile(t *testing.T) {
	root := node(t, imagespec.DriftRevert)
	e := etcmerge.Open(root)
	track(t, root, WithoutFanotify())
	if err := os.WriteFile(e.Live(conf), []byte("listen = 6666\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, 10*time.Second, "the edit reverted", func() bool {
		l, _ := ReadLog(root)
		return len(l.History) > 0 && l.History[len(l.History)-1].Action == Reverted
	})
	b, err := os.ReadFile(e.Live(conf))
	if err != nil || string(b) != base {
		t.Fatalf("%s = %q, %v: want the image's file back", conf, b, err)
	}
	l, _ := ReadLog(root)
	if len(l.Files) != 0 {
		t.Fatalf("a reverted edit is reported as drift: %+v", l.Files)
	}
	if files, _ := Report(root); len(files) != 0 {
		t.Fatalf("report %+v", files)
	}
}

func TestPatchAppliesWithGitApply(t *testing.T) {
	git := testsupport.RequireTool(t, "git", "apt-get install git")
	root := node(t, "")
	e := etcmerge.Open(root)
	// A checkout of the recipes repository the image was built from.
	repo := t.TempDir()
	testsupport.WriteFiles(t, repo, map[string]string{"images/web/app.conf": base, "images/base/other.conf": "a\n"})
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(git, args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	run("init", "-q")
	run("add", ".")
	run("commit", "-qm", "recipes")
	track(t, root, WithoutFanotify())
	edited := "# tuned on the node\nlisten = 80\nworkers = 8\nlog = info"
	if err := os.WriteFile(e.Live(conf), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(e.Live(other)); err != nil {
		t.Fatal(err)
	}
	recorded(t, root, conf)
	recorded(t, root, other)
	files, err := Report(root)
	if err != nil {
		t.Fatal(err)
	}
	var patch strings.Builder
	skipped, err := WritePatch(&patch, files)
	if err != nil || len(skipped) != 0 {
		t.Fatalf("WritePatch: %v, skipped %v", err, skipped)
	}
	p := filepath.Join(t.TempDir(), "drift.patch")
	if err := os.WriteFile(p, []byte(patch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run("apply", "--check", p)
	run("apply", p)
	b, err := os.ReadFile(filepath.Join(repo, "images/web/app.conf"))
	if err != nil || string(b) != edited {
		t.Fatalf("patched source = %q, %v; want %q", b, err, edited)
	}
	if _, err := os.Stat(filepath.Join(repo, "images/base/other.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the locally removed file is still in the checkout: %v\n%s", err, patch.String())
	}
}

func TestPatchSkipsWhatItCannotCarry(t *testing.T) {
	files := []File{
		{Path: "/etc/ssl/x", Diff: "d"},
		{Path: "/etc/t", Source: "images/web/t", Template: true},
	}
	var b strings.Builder
	skipped, err := WritePatch(&b, files)
	if err != nil || len(skipped) != 2 || b.Len() != 0 {
		t.Fatalf("skipped %v, %v, patch %q", skipped, err, b.String())
	}
	if !strings.Contains(skipped[0].Reason, "not a role file") || !strings.Contains(skipped[1].Reason, "template images/web/t") {
		t.Fatalf("reasons %+v", skipped)
	}
}

func TestWatchBudget(t *testing.T) {
	root := node(t, "")
	_, err := NewTracker(t.Context(), root, WithBudget(1), WithoutFanotify())
	if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "2 directories of managed config files to watch, the budget is 1") {
		t.Fatalf("NewTracker over budget: %v", err)
	}
}

func TestConfigFileChangeIsSignalled(t *testing.T) {
	root := node(t, "")
	cfg := filepath.Join(t.TempDir(), "node.toml")
	changed := make(chan struct{}, 10)
	track(t, root, WithoutFanotify(), WithConfigFile(cfg, func() { changed <- struct{}{} }))
	if err := os.WriteFile(cfg, []byte("name = \"n\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no call after the config file was written")
	}
	// Other files of its directory do not count.
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "other"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, _ := ReadLog(root)
	if len(l.Files) != 0 {
		t.Fatalf("the config file was recorded as drift: %+v", l.Files)
	}
}
