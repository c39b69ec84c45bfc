package compression

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// seeds returns the xz files of testdata/xz with the bytes each decodes
// to (NAME.xz, NAME.out).
func seeds(t testing.TB) map[string][2][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/xz/*.xz")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seeds in testdata/xz: %v", err)
	}
	out := map[string][2][]byte{}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(strings.TrimSuffix(f, ".xz") + ".out")
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = [2][]byte{in, want}
	}
	return out
}

// TestXZSeeds: the fuzz seeds (xz CLI output: blocks, multithreaded,
// every check, concatenation with padding, empty, uncompressed chunks)
// decode to what they hold.
func TestXZSeeds(t *testing.T) {
	for name, s := range seeds(t) {
		t.Run(name, func(t *testing.T) {
			got, err := decompressAll(t, s[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, s[1]) {
				t.Fatalf("decoded %q, want %q", got, s[1])
			}
			// The fuzz target's checksum fixer keeps a valid file valid.
			if got, err := decompressAll(t, fixXZ(s[0])); err != nil || !bytes.Equal(got, s[1]) {
				t.Fatalf("fixXZ: decoded %q, %v", got, err)
			}
		})
	}
}

// FuzzXZGuard: arbitrary bytes never panic, fail only with a
// malformed-stream or dictionary error, never allocate a dictionary above
// the limit, and what the reader accepts ulikunitz/xz decodes to the same
// bytes (two independent decoders agree).
func FuzzXZGuard(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s[0])
	}
	const maxDict = 1 << 20 // small, so the fuzzer does not spend its time zeroing dictionaries
	const maxOut = 8 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzXZ(t, data, maxDict, maxOut)
		fuzzXZ(t, fixXZ(data), maxDict, maxOut)
	})
}

// fuzzXZ decodes data and checks what FuzzXZGuard promises.
func fuzzXZ(t *testing.T, data []byte, maxDict uint32, maxOut int) {
	var got []byte
	var err error
	grew := heapGrowth(func() {
		var r *xzReader
		if r, err = newXZReader(bytes.NewReader(data), maxDict); err == nil {
			got, err = io.ReadAll(io.LimitReader(r, int64(maxOut)))
		}
	})
	if limit := uint64(maxDict) + 2*uint64(maxOut) + 1<<20; grew > limit {
		t.Fatalf("decoding %d bytes allocated %d bytes, more than a %d-byte dictionary and the output allow", len(data), grew, maxDict)
	}
	if err != nil {
		if !errors.Is(err, ErrMalformedXZ) && !errors.Is(err, ErrXZDict) {
			t.Fatalf("unclassified error: %v", err)
		}
		return
	}
	if len(got) == maxOut {
		return
	}
	xr, err := xz.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("accepted what ulikunitz/xz refuses: %v", err)
	}
	want, err := io.ReadAll(xr)
	if err != nil {
		t.Fatalf("accepted what ulikunitz/xz refuses: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("decoded %d bytes, ulikunitz/xz %d", len(got), len(want))
	}
}

// fixXZ rewrites data so that its checksums agree with what they cover,
// letting the fuzzer's mutations get past them: where data walks as xz
// streams, the stream and block headers get their CRC32s, the block
// checks are dropped (check type none) and the index and footer are
// rebuilt from the blocks (sizes from the chunk headers). What does not
// walk is appended unchanged.
func fixXZ(data []byte) []byte {
	var out []byte
	pos := 0
	for len(data)-pos >= xzStreamHeaderLen && bytes.HasPrefix(data[pos:], xzHeaderMagic) {
		cs := xzCheckSize(data[pos+7])
		out = append(out, data[pos:pos+6]...)
		out = append(out, 0, 0)
		out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE([]byte{0, 0}))
		pos += xzStreamHeaderLen
		var recs []uint64
		for pos < len(data) && data[pos] != 0 {
			hs := (int(data[pos]) + 1) * 4
			if pos+hs > len(data) {
				return append(out, data[pos:]...)
			}
			start := len(out)
			out = append(out, data[pos:pos+hs-4]...)
			out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
			c, u := pos+hs, uint64(0)
			for c < len(data) && data[c] != 0 {
				switch ctl := data[c]; {
				case (ctl == 1 || ctl == 2) && c+3 <= len(data):
					n := int(binary.BigEndian.Uint16(data[c+1:])) + 1
					c, u = c+3+n, u+uint64(n)
				case ctl >= 0x80 && c+5 <= len(data):
					u += uint64(ctl&0x1f)<<16 + uint64(binary.BigEndian.Uint16(data[c+1:])) + 1
					c += 5 + int((ctl>>5)&3)/2 + int(binary.BigEndian.Uint16(data[c+3:])) + 1
				default:
					return append(out, data[pos+hs:]...)
				}
			}
			if c >= len(data) {
				return append(out, data[pos+hs:]...)
			}
			c++
			comp := c - pos - hs
			c += (4-comp%4)%4 + cs
			if c > len(data) {
				return append(out, data[pos+hs:]...)
			}
			out = append(out, data[pos+hs:c-cs]...)
			recs = append(recs, uint64(hs+comp), u)
			pos = c
		}
		// Skip the old index and footer, rebuild them.
		if pos < len(data) {
			back := len(data) - pos
			if i := bytes.Index(data[pos:], xzFooterMagic); i >= 0 {
				back = i + len(xzFooterMagic)
			}
			pos += back
		}
		start := len(out)
		out = append(out, 0)
		out = binary.AppendUvarint(out, uint64(len(recs)/2))
		for _, v := range recs {
			out = binary.AppendUvarint(out, v)
		}
		for (len(out)-start)%4 != 0 {
			out = append(out, 0)
		}
		out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
		foot := binary.LittleEndian.AppendUint32(nil, uint32((len(out)-start)/4-1))
		foot = append(foot, 0, 0)
		out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(foot))
		out = append(append(out, foot...), xzFooterMagic...)
		for len(data)-pos >= 4 && allZero(data[pos:pos+4]) {
			out, pos = append(out, data[pos:pos+4]...), pos+4
		}
	}
	return append(out, data[pos:]...)
}
