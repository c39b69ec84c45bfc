package supervise

import (
	"context"
	"testing"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// BenchmarkStartSandboxed measures how long a sandboxed service takes
// from Start to ready (it writes its notification line first thing),
// with the full sandbox and with the sandbox of before issue 13
// (Options.Unhardened), in the same run: make bench reports both.
func BenchmarkStartSandboxed(b *testing.B) {
	for _, bc := range []struct {
		name       string
		unhardened bool
	}{{"hardened", false}, {"before", true}} {
		b.Run(bc.name, func(b *testing.B) {
			root := busyboxRoot(b, sandboxDirs...)
			s := New(context.Background(), Options{Root: root, Chroot: true, Unhardened: bc.unhardened,
				Users: []imagespec.User{{Name: "svc", UID: 1234, GID: 1234}}})
			svc := imagespec.Service{Name: "svc", User: "svc", Exec: []string{"/bin/sh", "-c", "echo ready >&3; exec sleep 300"},
				Ready: &imagespec.Ready{NotifyFD: 3}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Start(ctx, []imagespec.Service{svc}); err != nil {
					b.Fatal(err)
				}
				if err := s.WaitReady(ctx, "svc"); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Stop(ctx, "svc"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
