package layer

import (
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/un-distro/undistro/internal/testsupport"
)

// benchTree copies ~50 MB of real package-like payload into a temp dir:
// the Go toolchain's binaries (ELF executables) and then its source tree
// (text), from GOROOT, which every machine running this benchmark has.
func benchTree(b *testing.B) (dir string, size int64) {
	b.Helper()
	const want = 50 << 20
	dir = b.TempDir()
	goroot := runtime.GOROOT()
	for _, sub := range []string{"bin", "pkg/tool", "src"} {
		err := filepath.WalkDir(filepath.Join(goroot, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || size >= want {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(goroot, p)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			dst := filepath.Join(dir, "usr/lib/go", rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			size += int64(len(data))
			return os.WriteFile(dst, data, 0o644)
		})
		if err != nil {
			b.Fatalf("copying GOROOT for the benchmark tree: %v", err)
		}
	}
	if size < want/2 {
		testsupport.Unavailable(b, "GOROOT %s holds only %d bytes: install the Go toolchain sources", goroot, size)
	}
	return dir, size
}

// BenchmarkWrite measures layer.Write throughput (MB/s of file content).
func BenchmarkWrite(b *testing.B) {
	dir, size := benchTree(b)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Write(context.Background(), dir, io.Discard, Options{Epoch: testEpoch}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteVsTarGzip times layer.Write and `tar | gzip -6` of the same
// tree in the same run and reports both throughputs and their ratio:
//
//	go test -run '^$' -bench WriteVsTarGzip -benchtime 5x ./builder/layer
//
// The ratios are compressed size over content size.
func BenchmarkWriteVsTarGzip(b *testing.B) {
	for _, tool := range []string{"tar", "gzip"} {
		testsupport.RequireTool(b, tool, "apt-get install "+tool)
	}
	dir, size := benchTree(b)
	var ours, theirs time.Duration
	var oursSize, theirSize int64
	for b.Loop() {
		start := time.Now()
		info, err := Write(context.Background(), dir, io.Discard, Options{Epoch: testEpoch})
		if err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		oursSize = info.Size
		start = time.Now()
		cmd := exec.Command("sh", "-c", `tar -C "$1" -cf - . | gzip -6 | wc -c`, "sh", dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("tar | gzip: %v: %s", err, out)
		}
		theirs += time.Since(start)
		if theirSize, err = strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil {
			b.Fatalf("tar | gzip | wc -c printed %q", out)
		}
	}
	mb := float64(size) / 1e6 * float64(b.N)
	b.ReportMetric(mb/ours.Seconds(), "layer-MB/s")
	b.ReportMetric(mb/theirs.Seconds(), "tar|gzip-6-MB/s")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "speedup")
	b.ReportMetric(float64(oursSize)/float64(size), "layer-ratio")
	b.ReportMetric(float64(theirSize)/float64(size), "tar|gzip-6-ratio")
}
