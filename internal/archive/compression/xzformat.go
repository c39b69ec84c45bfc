package compression

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The xz container format (xz file format 1.2.x): a file is one or more
// streams, each optionally followed by stream padding (zero bytes in
// multiples of four). A stream is a 12-byte header, blocks, an index and a
// 12-byte footer. This file parses those structures from whole byte
// slices; xzreader.go walks a stream with them.

// ErrMalformedXZ is wrapped by the errors of an xz stream whose container
// structure is invalid, truncated or uses what the decoder cannot read.
var ErrMalformedXZ = errors.New("malformed xz stream")

var (
	xzHeaderMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	xzFooterMagic = []byte{'Y', 'Z'}
)

const (
	xzStreamHeaderLen = 12
	xzFooterLen       = 12
	lzma2FilterID     = 0x21
)

// xzCheckSize gives the size of the integrity check of each check ID
// (the spec fixes it for unknown IDs too).
func xzCheckSize(id byte) int {
	return [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}[id&0x0f]
}

// xzFilterNames names the filter IDs of the spec, for errors.
var xzFilterNames = map[uint64]string{
	0x03: "delta", 0x04: "x86 BCJ", 0x05: "PowerPC BCJ", 0x06: "IA-64 BCJ",
	0x07: "ARM BCJ", 0x08: "ARM-Thumb BCJ", 0x09: "SPARC BCJ",
	0x0a: "ARM64 BCJ", 0x0b: "RISC-V BCJ", lzma2FilterID: "LZMA2",
}

// parseXZStreamHeader checks the 12-byte stream header b and returns its
// stream flags.
func parseXZStreamHeader(b []byte) ([2]byte, error) {
	var flags [2]byte
	if !bytes.HasPrefix(b, xzHeaderMagic) {
		return flags, fmt.Errorf("stream header magic is % x, want % x", b[:6], xzHeaderMagic)
	}
	if b[6] != 0 || b[7]&0xf0 != 0 {
		return flags, fmt.Errorf("reserved stream flags set (%#02x %#02x)", b[6], b[7])
	}
	if crc32.ChecksumIEEE(b[6:8]) != binary.LittleEndian.Uint32(b[8:12]) {
		return flags, errors.New("stream header CRC32 mismatch")
	}
	copy(flags[:], b[6:8])
	return flags, nil
}

// parseXZFooter checks the 12-byte stream footer b against the stream
// flags and the index size.
func parseXZFooter(b []byte, flags [2]byte, indexSize int64) error {
	if !bytes.Equal(b[10:12], xzFooterMagic) {
		return fmt.Errorf("stream footer magic is % x, want % x", b[10:12], xzFooterMagic)
	}
	if crc32.ChecksumIEEE(b[4:10]) != binary.LittleEndian.Uint32(b[0:4]) {
		return errors.New("stream footer CRC32 mismatch")
	}
	if b[8] != flags[0] || b[9] != flags[1] {
		return errors.New("stream footer flags differ from the stream header's")
	}
	if back := (int64(binary.LittleEndian.Uint32(b[4:8])) + 1) * 4; back != indexSize {
		return fmt.Errorf("stream footer gives an index of %d bytes, the index has %d", back, indexSize)
	}
	return nil
}

// xzVarint decodes an xz variable-length integer (at most 9 bytes, 63
// bits, no redundant trailing zero byte) from the start of b. ok is false
// when b ends first or the encoding is invalid (n is then how many bytes
// were looked at).
func xzVarint(b []byte) (v uint64, n int, ok bool) {
	for i := 0; i < len(b) && i < 9; i++ {
		c := b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, i + 1, false
			}
			return v, i + 1, true
		}
	}
	return 0, min(len(b), 9), false
}

// xzBlockHeader is what the reader needs of a block header.
type xzBlockHeader struct {
	size         int   // of the header, bytes
	compressed   int64 // declared size of the block's data, or -1
	uncompressed int64 // declared size of its decoded data, or -1
	dict         int64 // LZMA2 dictionary size
}

// lzma2Dict decodes the LZMA2 dictionary-size property byte.
func lzma2Dict(p byte) (int64, error) {
	if p > 40 {
		return 0, fmt.Errorf("LZMA2 dictionary property %d is above 40", p)
	}
	if p == 40 {
		return 1<<32 - 1, nil
	}
	return int64(2|p&1) << (p/2 + 11), nil
}

// dictError is the error for a dictionary above the allowed maximum.
type dictError struct {
	dict, max int64
	block     int   // 1-based, counted over the whole file
	offset    int64 // of the block header in the file
}

func (e *dictError) Error() string {
	return fmt.Sprintf("xz stream declares a %d MiB dictionary (block %d, at byte %d), more than the %d MiB allowed: recompress it (xz -9 uses 64 MiB)",
		e.dict>>20, e.block, e.offset, e.max>>20)
}

// parseXZBlockHeader parses the complete block header b ((b[0]+1)*4
// bytes). It refuses an LZMA2 dictionary above maxDict (a *dictError)
// before anything else the header may hold wrong, and any filter chain
// but a plain LZMA2 one, which is all the decoder reads.
func parseXZBlockHeader(b []byte, maxDict int64) (xzBlockHeader, error) {
	h := xzBlockHeader{size: len(b), compressed: -1, uncompressed: -1}
	end := len(b) - 4 // the CRC32 follows the fields and the padding
	flags := b[1]
	if flags&0x3c != 0 {
		return h, fmt.Errorf("reserved block flags set (%#02x)", flags)
	}
	i := 2
	field := func(what string) (uint64, error) {
		v, n, ok := xzVarint(b[i:end])
		if !ok {
			return 0, fmt.Errorf("block header: bad or overlong %s", what)
		}
		i += n
		return v, nil
	}
	if flags&0x40 != 0 {
		v, err := field("compressed size")
		if err != nil {
			return h, err
		}
		if v == 0 || v > 1<<62 {
			return h, fmt.Errorf("block header: compressed size %d out of range", v)
		}
		h.compressed = int64(v)
	}
	if flags&0x80 != 0 {
		v, err := field("uncompressed size")
		if err != nil {
			return h, err
		}
		if v > 1<<62 {
			return h, fmt.Errorf("block header: uncompressed size %d out of range", v)
		}
		h.uncompressed = int64(v)
	}
	nf := int(flags&0x03) + 1
	var other []string
	for f := range nf {
		id, err := field("filter ID")
		if err != nil {
			return h, err
		}
		psize, err := field("filter properties size")
		if err != nil {
			return h, err
		}
		if psize > uint64(end-i) {
			return h, fmt.Errorf("block header: filter %#x properties (%d bytes) overrun the header", id, psize)
		}
		props := b[i : i+int(psize)]
		i += int(psize)
		last := f == nf-1
		switch {
		case id == lzma2FilterID && !last:
			return h, errors.New("block header: LZMA2 is not the last filter")
		case id == lzma2FilterID:
			if len(props) != 1 {
				return h, fmt.Errorf("block header: LZMA2 properties are %d bytes, want 1", len(props))
			}
			d, err := lzma2Dict(props[0])
			if err != nil {
				return h, fmt.Errorf("block header: %w", err)
			}
			if d > maxDict {
				return h, &dictError{dict: d, max: maxDict}
			}
			h.dict = d
		case last:
			return h, fmt.Errorf("block header: the last filter is %#x, not LZMA2", id)
		default:
			name := xzFilterNames[id]
			if name == "" {
				name = "unknown"
			}
			other = append(other, fmt.Sprintf("%s (%#x)", name, id))
		}
	}
	if !allZero(b[i:end]) {
		return h, errors.New("block header: non-zero header padding")
	}
	if crc32.ChecksumIEEE(b[:end]) != binary.LittleEndian.Uint32(b[end:]) {
		return h, errors.New("block header CRC32 mismatch")
	}
	if len(other) > 0 {
		return h, fmt.Errorf("block uses the filter %v before LZMA2, which this decoder does not support: recompress without --x86/--delta and the like", other)
	}
	return h, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
