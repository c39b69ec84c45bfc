package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
	"github.com/un-distro/undistro/internal/testsupport/imagetest"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// deltaNodeImage is a role image of 10,000 package files in ten layers,
// three services and a config layer in which web's file holds conf.
func deltaNodeImage(b *testing.B, role, conf string) imagetest.Image {
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return "sha256:" + hex.EncodeToString(h[:]) }
	img := imagetest.Image{Role: role}
	add := func(name string, layer []imagetest.Entry) {
		img.Layers = append(img.Layers, layer)
		img.Meta.Packages = append(img.Meta.Packages, imagespec.Package{Name: name, Version: "1", DiffID: sum(string(imagetest.Tar(b, layer)))})
	}
	for p := range 10 {
		l := []imagetest.Entry{imagetest.Dir("usr/"), imagetest.Dir(fmt.Sprintf("usr/p%d/", p))}
		for i := range 1000 {
			if i%100 == 0 {
				l = append(l, imagetest.Dir(fmt.Sprintf("usr/p%d/d%d/", p, i/100)))
			}
			l = append(l, imagetest.File(fmt.Sprintf("usr/p%d/d%d/f%d", p, i/100, i), fmt.Sprintf("package %d file %d\n", p, i)))
		}
		add(fmt.Sprintf("p%d", p), l)
	}
	sh := imagetest.File("svc/run.sh", notify)
	sh.Mode = 0o755
	add("svc", []imagetest.Entry{imagetest.Dir("svc/"), sh})
	confs := map[string]string{"/etc/web.conf": conf, "/etc/db.conf": "db", "/etc/cache.conf": "cache"}
	layer := []imagetest.Entry{imagetest.Dir("etc/")}
	for _, p := range []string{"/etc/cache.conf", "/etc/db.conf", "/etc/web.conf"} {
		layer = append(layer, imagetest.File(p[1:], confs[p]))
		img.Meta.Files = append(img.Meta.Files, imagespec.File{Path: p, Mode: 0o644, SHA256: sum(confs[p])})
	}
	img.Layers = append(img.Layers, layer)
	for _, name := range []string{"cache", "db", "web"} {
		img.Meta.Services = append(img.Meta.Services, imagespec.Service{Name: name, Package: "svc", Packages: []string{"p0", "svc"},
			Exec: []string{"/svc/run.sh"}, Restart: "always", Files: []string{"/etc/" + name + ".conf"}, Ready: ready3})
	}
	return img
}

// BenchmarkNodeDeltaSwitch: a running node switches between two images of
// 10,000 package files that differ in one service's config file: the
// derived root, the restart of that one service and its health gate.
func BenchmarkNodeDeltaSwitch(b *testing.B) {
	testsupport.RequireRoot(b, "a switch derives the new root in place as root only")
	ctx := logCtx(context.Background())
	dir := filepath.Join(b.TempDir(), "layout")
	imagetest.WriteLayout(b, dir, deltaNodeImage(b, "one", "1"), deltaNodeImage(b, "two", "2"))
	cfg := Config{Root: b.TempDir(), HealthTimeout: 30 * time.Second, NoChroot: true}
	n, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(rctx) }()
	defer func() { cancel(); <-done }()
	var c *Client
	testsupport.WaitFor(b, 10*time.Second, "the daemon", func() bool { c, err = Dial(ctx, n.cfg.Socket); return err == nil })
	refs := []string{"oci:" + dir + ":one", "oci:" + dir + ":two"}
	for _, r := range refs { // pull both and run one: the loop measures switches only
		if _, err := c.Switch(ctx, r, unsigned); err != nil {
			b.Fatal(err)
		}
	}
	var written, restarted, derived int
	i := 0
	for b.Loop() {
		p, err := c.Switch(ctx, refs[i%2], unsigned)
		if err != nil {
			b.Fatal(err)
		}
		if p.Root != nil && p.Root.Derived {
			derived++
			written += p.Root.Written
		}
		restarted += len(p.Restart)
		i++
	}
	b.ReportMetric(float64(written)/float64(i), "files-written/op")
	b.ReportMetric(float64(restarted)/float64(i), "services-restarted/op")
	b.ReportMetric(float64(derived)/float64(i), "derived/op")
}
