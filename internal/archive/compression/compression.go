package compression

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Kinds of compression Decompress detects.
const (
	None  = "none"
	Gzip  = "gzip"
	Bzip2 = "bzip2"
	XZ    = "xz"
	Zstd  = "zstd"
)

var magics = []struct {
	name  string
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Bzip2, []byte("BZh")},
	{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

// zstdWindow caps the memory a zstd stream may ask for (its window).
const zstdWindow = 1 << 27

// Decompress returns the decompressed stream of r, detecting gzip, bzip2,
// xz and zstd from the first bytes; anything else is returned as is
// (None). Close releases the decoder, not r.
func Decompress(r io.Reader) (io.ReadCloser, string, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(6)
	for _, m := range magics {
		if !bytes.HasPrefix(head, m.magic) {
			continue
		}
		switch m.name {
		case Gzip:
			zr, err := gzip.NewReader(br)
			if err != nil {
				return nil, m.name, fmt.Errorf("reading gzip header: %w", err)
			}
			return zr, m.name, nil
		case Bzip2:
			return io.NopCloser(bzip2.NewReader(br)), m.name, nil
		case XZ:
			xr, err := newXZReader(br, maxXZDict)
			if err != nil {
				return nil, m.name, fmt.Errorf("reading xz header: %w", err)
			}
			return io.NopCloser(xr), m.name, nil
		case Zstd:
			zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdWindow), zstd.WithDecoderLowmem(true))
			if err != nil {
				return nil, m.name, fmt.Errorf("reading zstd header: %w", err)
			}
			return zstdCloser{zr}, m.name, nil
		}
	}
	return io.NopCloser(br), None, nil
}

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }
