package etcmerge

import (
	"context"
	"fmt"
	"testing"

	"github.com/un-distro/undistro/runtime/imagespec"
)

// BenchmarkMerge: a switch's /etc merge of an /etc of 500 files of which
// one changed: plan (hashing the local files) and apply.
func BenchmarkMerge(b *testing.B) {
	e := Open(b.TempDir())
	image := func(v int) map[string]Item {
		w := map[string]Item{}
		for i := range 500 {
			w[fmt.Sprintf("/etc/d%d/f%d.conf", i/50, i)] = NewItem(Entry{Path: fmt.Sprintf("/etc/d%d/f%d.conf", i/50, i), Mode: 0o644}, []byte(fmt.Sprintf("setting = %d\n", i)))
		}
		p := "/etc/d0/f0.conf"
		w[p] = NewItem(Entry{Path: p, Mode: 0o644}, []byte(fmt.Sprintf("setting = v%d\n", v)))
		return w
	}
	imgs := []map[string]Item{image(1), image(2)}
	ctx := context.Background()
	if m, err := e.Plan(imgs[1], imagespec.ConfigPolicy{}); err != nil {
		b.Fatal(err)
	} else if _, err := e.Apply(ctx, m, "1"); err != nil {
		b.Fatal(err)
	}
	written := 0
	i := 0
	for b.Loop() {
		m, err := e.Plan(imgs[i%2], imagespec.ConfigPolicy{})
		if err != nil {
			b.Fatal(err)
		}
		ch, err := e.Apply(ctx, m, fmt.Sprint(i%2))
		if err != nil {
			b.Fatal(err)
		}
		written += len(ch)
		i++
	}
	b.ReportAllocs()
	b.ReportMetric(float64(written)/float64(i), "files-written/op")
}
