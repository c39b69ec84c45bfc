package compression

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	"github.com/ulikunitz/xz"
)

// BenchmarkXZ decodes a 16 MiB file (12 MiB of text, 4 MiB of random
// bytes; xz -1) with ulikunitz/xz (the decoder used before) and through
// Decompress (xi2/xz with the dictionary limit), in the same run.
//
//	go test -run x -bench BenchmarkXZ -benchtime 5x ./internal/archive/compression
func BenchmarkXZ(b *testing.B) {
	data := mixed(12<<20, 4<<20)
	file := xzCLI(b, data, "-1")
	check := func(b *testing.B, n int64, err error) {
		if err != nil || n != int64(len(data)) {
			b.Fatalf("decoded %d bytes, %v", n, err)
		}
	}
	b.Run("ulikunitz", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			xr, err := xz.NewReader(bufio.NewReader(bytes.NewReader(file)))
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, xr)
			check(b, n, err)
		}
	})
	b.Run("Decompress", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			dec, _, err := Decompress(bytes.NewReader(file))
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, dec)
			check(b, n, err)
		}
	})
}
