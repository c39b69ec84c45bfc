package compression

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// The xz container, as far as the tests build and patch files (xz file
// format 1.2.x).
var (
	xzHeaderMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	xzFooterMagic = []byte{'Y', 'Z'}
)

const (
	xzStreamHeaderLen = 12
	xzFooterLen       = 12
	lzma2FilterID     = 0x21
)

// xzCheckSize gives the size of the integrity check of each check ID.
func xzCheckSize(id byte) int {
	return [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}[id&0x0f]
}

// xzVarint decodes an xz variable-length integer from the start of b.
func xzVarint(b []byte) (v uint64, n int, ok bool) {
	for i := 0; i < len(b) && i < 9; i++ {
		c := b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1, !(c == 0 && i > 0)
		}
	}
	return 0, min(len(b), 9), false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// streamBlocks returns the offsets of the block headers of the single xz
// stream b, found through its index.
func streamBlocks(t *testing.T, b []byte) []int {
	t.Helper()
	f := b[len(b)-xzFooterLen:]
	index := b[len(b)-xzFooterLen-int(binary.LittleEndian.Uint32(f[4:8])+1)*4:]
	if index[0] != 0 {
		t.Fatalf("no index indicator at the backward size")
	}
	i := 1
	next := func() uint64 {
		v, n, ok := xzVarint(index[i:])
		if !ok {
			t.Fatal("bad index varint")
		}
		i += n
		return v
	}
	var offs []int
	pos := xzStreamHeaderLen
	for range next() {
		offs = append(offs, pos)
		pos += (int(next()) + 3) &^ 3
		next()
	}
	return offs
}

// blockFeatures reports whether any block header of the single xz
// stream b declares its sizes, and how many uncompressed LZMA2 chunks its
// blocks hold.
func blockFeatures(t *testing.T, b []byte) (sizes bool, stored int) {
	t.Helper()
	for _, off := range streamBlocks(t, b) {
		sizes = sizes || b[off+1]&0xc0 != 0
		for c := off + (int(b[off])+1)*4; b[c] != 0; {
			switch ctl := b[c]; {
			case ctl == 1 || ctl == 2:
				stored++
				c += 3 + int(binary.BigEndian.Uint16(b[c+1:])) + 1
			case ctl >= 0x80:
				hl := 5 + int((ctl>>5)&3)/2
				c += hl + int(binary.BigEndian.Uint16(b[c+3:])) + 1
			default:
				t.Fatalf("chunk control %#x at %d", ctl, c)
			}
		}
	}
	return sizes, stored
}

// dictProp returns the offset of the LZMA2 dictionary property byte of the
// block header at off.
func dictProp(t *testing.T, b []byte, off int) int {
	t.Helper()
	flags := b[off+1]
	i := off + 2
	for _, bit := range []byte{0x40, 0x80} {
		if flags&bit != 0 {
			_, n, _ := xzVarint(b[i:])
			i += n
		}
	}
	if flags&3 != 0 || b[i] != lzma2FilterID || b[i+1] != 1 {
		t.Fatalf("block header at %d is not a plain LZMA2 one: % x", off, b[off:i+3])
	}
	return i + 2
}

// setDict sets the dictionary property of the block header at off and
// fixes the header's CRC32, so that a decoder checking the CRC first still
// reaches the dictionary.
func setDict(t *testing.T, b []byte, off int, prop byte) {
	t.Helper()
	b[dictProp(t, b, off)] = prop
	end := off + (int(b[off])+1)*4 - 4
	binary.LittleEndian.PutUint32(b[end:], crc32.ChecksumIEEE(b[off:end]))
}
