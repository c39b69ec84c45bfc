package compression

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
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
			if err := checkXZDict(br); err != nil {
				return nil, m.name, err
			}
			xr, err := xz.NewReader(br)
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

// maxXZDict caps the LZMA2 dictionary an xz stream may declare: the
// decoder allocates it whole, so a few hostile bytes could ask for 4 GiB.
// xz -9 uses 64 MiB.
const maxXZDict = 256 << 20

// checkXZDict reads the dictionary size the first block of the xz stream
// in br declares (stream header, block header, LZMA2 filter properties)
// and refuses one above maxXZDict. Streams it cannot parse are left to the
// decoder, which reports them.
func checkXZDict(br *bufio.Reader) error {
	head, _ := br.Peek(12 + 1024)
	if len(head) < 12+2 {
		return nil
	}
	blk := head[12:]
	size := (int(blk[0]) + 1) * 4
	if blk[0] == 0 || len(blk) < size {
		return nil // index (no blocks) or a short read
	}
	flags := blk[1]
	i := 2
	varint := func() (uint64, bool) {
		var v uint64
		for shift := 0; i < size && shift < 63; shift += 7 {
			b := blk[i]
			i++
			v |= uint64(b&0x7f) << shift
			if b&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	if flags&0x40 != 0 {
		if _, ok := varint(); !ok {
			return nil
		}
	}
	if flags&0x80 != 0 {
		if _, ok := varint(); !ok {
			return nil
		}
	}
	for range int(flags&0x03) + 1 {
		id, ok := varint()
		if !ok {
			return nil
		}
		n, ok := varint()
		if !ok || i+int(n) > size {
			return nil
		}
		if id == 0x21 && n == 1 { // LZMA2: one byte of dictionary size
			b := blk[i]
			if b > 40 {
				return nil // invalid; the decoder says so
			}
			dict := int64(2|b&1) << (b/2 + 11)
			if b == 40 {
				dict = 1<<32 - 1
			}
			if dict > maxXZDict {
				return fmt.Errorf("xz stream declares a %d MiB dictionary, more than the %d MiB allowed: recompress it (xz -9 uses 64 MiB)", dict>>20, maxXZDict>>20)
			}
		}
		i += int(n)
	}
	return nil
}

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }
