package store

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// deltaImage is an image of files small files in ten package layers and a
// config layer of five files, one of which holds conf.
func deltaImage(role string, files int, conf string) testImage {
	var layers [][]ent
	per := files / 10
	for p := range 10 {
		l := []ent{d("usr/"), d(fmt.Sprintf("usr/p%d/", p))}
		for i := range per {
			if i%100 == 0 {
				l = append(l, d(fmt.Sprintf("usr/p%d/d%03d/", p, i/100)))
			}
			l = append(l, f(fmt.Sprintf("usr/p%d/d%03d/f%04d", p, i/100, i), fmt.Sprintf("package %d file %d\n", p, i)))
		}
		layers = append(layers, l)
	}
	layers = append(layers, []ent{d("etc/"), f("etc/a.conf", "a"), f("etc/b.conf", "b"), f("etc/c.conf", "c"), f("etc/d.conf", "d"), f("etc/app.conf", conf)})
	return testImage{Role: role, Layers: layers}
}

// BenchmarkDeltaSwitch switches between two images that differ in one
// config file, with 1,000 and 10,000 files in their package layers, three
// ways in the same run: derive (what a switch does: change the current
// root in place), full (today's assembly of the whole new root) and rsync
// (`rsync -a --checksum` of the whole new tree over the old one, Debian's
// rsync). The ratios are what `make bench` reports.
func BenchmarkDeltaSwitch(b *testing.B) {
	testsupport.RequireRoot(b, "a root is derived in place as root only")
	ctx := context.Background()
	for _, n := range []int{1000, 10000} {
		lay := b.TempDir()
		dg := writeLayout(b, lay, deltaImage("one", n, "1"), deltaImage("two", n, "2"))
		s := openStore(b, b.TempDir())
		for _, r := range []string{"one", "two"} {
			if _, err := s.Pull(ctx, "oci:"+lay+":"+r); err != nil {
				b.Fatal(err)
			}
		}
		imgs := []string{dg["one"], dg["two"]}
		rootOf := func(d string) string { return filepath.Join(s.Root(), "roots", strings.TrimPrefix(d, "sha256:")) }
		b.Run(fmt.Sprintf("files=%d/derive", n), func(b *testing.B) {
			if _, err := s.Rootfs(ctx, imgs[0]); err != nil {
				b.Fatal(err)
			}
			_ = removeAll(rootOf(imgs[1]))
			written := 0
			i := 0
			for b.Loop() {
				from, to := imgs[i%2], imgs[(i+1)%2]
				st, ok, err := s.derive(ctx, from, to)
				if err != nil || !ok {
					b.Fatalf("derive: %v, %v", ok, err)
				}
				written += st.Written
				i++
			}
			b.ReportMetric(float64(written)/float64(i), "files-written/op")
		})
		b.Run(fmt.Sprintf("files=%d/full", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				b.StopTimer()
				if err := removeAll(rootOf(imgs[i%2])); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := s.Rootfs(ctx, imgs[i%2]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(n+5), "files-written/op")
		})
		b.Run(fmt.Sprintf("files=%d/rsync", n), func(b *testing.B) {
			rsync := testsupport.RequireTool(b, "rsync", "apt-get install rsync (make deps)")
			work := b.TempDir()
			for i, d := range imgs {
				if _, err := s.Rootfs(ctx, d); err != nil {
					b.Fatal(err)
				}
				// Copies, not the store's links: rsync must not touch layers.
				if out, err := exec.Command("cp", "-a", rootOf(d), filepath.Join(work, fmt.Sprint(i))).CombinedOutput(); err != nil {
					b.Fatalf("cp: %v\n%s", err, out)
				}
			}
			dst := filepath.Join(work, "node")
			if out, err := exec.Command("cp", "-a", filepath.Join(work, "0"), dst).CombinedOutput(); err != nil {
				b.Fatalf("cp: %v\n%s", err, out)
			}
			i := 1
			for b.Loop() {
				src := filepath.Join(work, fmt.Sprint(i%2))
				if out, err := exec.Command(rsync, "-a", "--checksum", "--delete", src+"/", dst+"/").CombinedOutput(); err != nil {
					b.Fatalf("rsync: %v\n%s", err, out)
				}
				i++
			}
		})
	}
}
