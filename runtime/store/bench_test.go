package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// benchLayers is a role-sized image: a base of 1000 files of 4 KiB in 20
// directories and five package layers of 100 files each.
func benchLayers(variant int) [][]ent {
	body := strings.Repeat("x", 4096)
	var base []ent
	for d := 0; d < 20; d++ {
		dir := fmt.Sprintf("usr/share/d%02d/", d)
		base = append(base, ent{Name: dir, Type: '5', Mode: 0o755})
		for f := 0; f < 50; f++ {
			base = append(base, ent{Name: fmt.Sprintf("%sf%02d", dir, f), Body: body, Type: '0', Mode: 0o644})
		}
	}
	layers := [][]ent{append([]ent{d("usr/"), d("usr/share/")}, base...)}
	for p := 0; p < 5; p++ {
		dir := fmt.Sprintf("opt/p%d/", p)
		l := []ent{d("opt/"), d(dir)}
		for f := 0; f < 100; f++ {
			content := body
			if p == 4 {
				content = fmt.Sprintf("%s%d", body[:4000], variant) // the package that changes
			}
			l = append(l, ent{Name: fmt.Sprintf("%sf%03d", dir, f), Body: content, Type: '0', Mode: 0o644})
		}
		layers = append(layers, l)
	}
	return layers
}

// BenchmarkSwitch measures a node moving to an image that differs from the
// current one in one package layer: pull (one layer fetched and unpacked,
// the rest cached), assemble its root, switch.
func BenchmarkSwitch(b *testing.B) {
	ctx := context.Background()
	lay := b.TempDir()
	p, err := layout.Write(lay, empty.Index)
	if err != nil {
		b.Fatal(err)
	}
	s := openStore(b, b.TempDir())
	add := func(i int) string {
		role := fmt.Sprintf("v%d", i)
		img := build(b, testImage{Role: role, Layers: benchLayers(i)})
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{imagespec.RefNameAnnotation: role})); err != nil {
			b.Fatal(err)
		}
		return "oci:" + lay + ":" + role
	}
	first, err := s.Pull(ctx, add(0))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Switch(ctx, first.Digest); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var pullTime, switchTime time.Duration
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		b.StopTimer()
		ref := add(i)
		if _, err := s.GC(ctx, 0); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		img, err := s.Pull(ctx, ref)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := s.Switch(ctx, img.Digest); err != nil { // assembles the root
			b.Fatal(err)
		}
		pullTime += t1.Sub(t0)
		switchTime += time.Since(t1)
	}
	b.ReportMetric(float64(pullTime.Milliseconds())/float64(b.N), "pull-ms/op")
	b.ReportMetric(float64(switchTime.Milliseconds())/float64(b.N), "rootfs+switch-ms/op")
}
