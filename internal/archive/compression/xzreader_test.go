package compression

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/un-distro/undistro/internal/testsupport"
)

// xzCLI compresses data with the xz command and args.
func xzCLI(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	testsupport.RequireTool(t, "xz", "apt-get install xz-utils")
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xz", append(append([]string{"-c", "-k", "-T1"}, args...), in)...).Output()
	if err != nil {
		t.Fatalf("xz %v: %v", args, err)
	}
	return out
}

// mixed returns n bytes of compressible text followed by m random bytes
// (which xz stores as uncompressed chunks).
func mixed(n, m int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the quick brown fox jumps over a lazy dog recipe builder layer image node")
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(" \n"[rng.IntN(8)/7])
	}
	out := b.Bytes()[:n]
	for range m {
		out = append(out, byte(rng.Uint32()))
	}
	return out
}

func decompressAll(t *testing.T, b []byte) ([]byte, error) {
	t.Helper()
	dec, kind, err := Decompress(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if kind != XZ {
		t.Fatalf("kind = %s, want xz", kind)
	}
	defer dec.Close()
	return io.ReadAll(dec)
}

// TestXZValid: what the xz CLI and the ulikunitz writer produce decodes to
// the original bytes through Decompress.
func TestXZValid(t *testing.T) {
	a := mixed(60<<10, 20<<10)
	b := []byte("second stream\n")
	random := mixed(0, 40<<10)
	ulikunitz := func(data []byte, blockSize int64) []byte {
		var buf bytes.Buffer
		w, err := xz.WriterConfig{BlockSize: blockSize}.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		file func() []byte
		want []byte
	}{
		{"default", func() []byte { return xzCLI(t, a) }, a},
		{"-9", func() []byte { return xzCLI(t, a, "-9") }, a},
		{"multi-block", func() []byte { return xzCLI(t, a, "--block-size=16KiB") }, a},
		{"multithreaded", func() []byte {
			b := xzCLI(t, a, "-T2", "--block-size=24KiB")
			if sizes, _ := blockFeatures(t, b); !sizes {
				t.Fatal("xz -T2 wrote no sizes in the block headers")
			}
			return b
		}, a},
		{"check none", func() []byte { return xzCLI(t, a, "--check=none") }, a},
		{"check crc32", func() []byte { return xzCLI(t, a, "--check=crc32") }, a},
		{"check crc64", func() []byte { return xzCLI(t, a, "--check=crc64") }, a},
		{"check sha256", func() []byte { return xzCLI(t, a, "--check=sha256") }, a},
		{"concatenated", func() []byte { return cat(xzCLI(t, a), xzCLI(t, b, "--check=sha256")) }, cat(a, b)},
		{"padding 4", func() []byte { return cat(xzCLI(t, b), make([]byte, 4)) }, b},
		{"padding 8 between streams", func() []byte { return cat(xzCLI(t, b), make([]byte, 8), xzCLI(t, b)) }, cat(b, b)},
		{"empty", func() []byte { return xzCLI(t, nil) }, nil},
		{"empty concatenated", func() []byte { return cat(xzCLI(t, nil), xzCLI(t, b), xzCLI(t, nil)) }, b},
		{"uncompressible", func() []byte {
			b := xzCLI(t, random)
			if _, stored := blockFeatures(t, b); stored == 0 {
				t.Fatal("xz wrote no uncompressed chunk for random data")
			}
			return b
		}, random},
		{"ulikunitz writer", func() []byte { return ulikunitz(a, 0) }, a},
		{"ulikunitz writer multi-block", func() []byte { return ulikunitz(a, 20<<10) }, a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decompressAll(t, tc.file())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("decoded %d bytes, want %d (equal: false)", len(got), len(tc.want))
			}
		})
	}
}

// TestXZUnsupportedFilters: BCJ and delta filters before LZMA2 are valid
// xz but not decoded by ulikunitz/xz: a clear error, not a bypass.
func TestXZUnsupportedFilters(t *testing.T) {
	a := mixed(20<<10, 0)
	for _, tc := range []struct{ args, want string }{
		{"--x86 --lzma2", "filter [x86 BCJ (0x4)] before LZMA2, which this decoder does not support"},
		{"--delta=dist=4 --lzma2", "filter [delta (0x3)] before LZMA2, which this decoder does not support"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			_, err := decompressAll(t, xzCLI(t, a, strings.Fields(tc.args)...))
			if !errors.Is(err, ErrMalformedXZ) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
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

// TestXZHostileDictionary: a dictionary above the limit in any block of
// any stream is refused before the decoder gets the header; the blocks
// before it decode.
func TestXZHostileDictionary(t *testing.T) {
	a := mixed(100<<10, 0)
	multi := xzCLI(t, a, "--block-size=32KiB")
	blocks := streamBlocks(t, multi)
	if len(blocks) < 3 {
		t.Fatalf("%d blocks, want several", len(blocks))
	}
	first := xzCLI(t, a[:1000])
	for _, tc := range []struct {
		name    string
		file    []byte
		header  int    // offset of the hostile block header
		prop    byte   // its dictionary property
		decoded []byte // what decodes before the refusal
		want    string
	}{
		{"second block 4 GiB", multi, blocks[1], 40, a[:32<<10], "xz stream declares a 4095 MiB dictionary (block 2, at byte %d), more than the 256 MiB allowed"},
		{"second stream 1 GiB", append(append([]byte{}, first...), multi...), len(first) + xzStreamHeaderLen, 36, a[:1000], "xz stream declares a 1024 MiB dictionary (block 2, at byte %d), more than the 256 MiB allowed"},
		{"first block 512 MiB", multi, blocks[0], 34, nil, "xz stream declares a 512 MiB dictionary (block 1, at byte %d), more than the 256 MiB allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte{}, tc.file...)
			b[dictProp(t, b, tc.header)] = tc.prop // CRC left stale: the refusal comes first
			want := fmt.Sprintf(tc.want, tc.header)

			r, err := newXZReader(bufio.NewReader(bytes.NewReader(b)), maxXZDict)
			var got []byte
			if err == nil {
				got, err = io.ReadAll(r)
			}
			var de *dictError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %q", err, want)
			}
			if !bytes.Equal(got, tc.decoded) {
				t.Errorf("decoded %d bytes before the refusal, want %d", len(got), len(tc.decoded))
			}
			if r != nil {
				// The decoder never got the header: nothing of it was consumed
				// and no dictionary above the limit was made.
				if r.off != int64(tc.header) {
					t.Errorf("consumed %d bytes, want %d (up to the hostile header)", r.off, tc.header)
				}
				if r.largestDict > maxXZDict {
					t.Errorf("a %d-byte dictionary was allocated", r.largestDict)
				}
				if _, err2 := r.Read(make([]byte, 10)); err2 != err {
					t.Errorf("second Read: %v, want the same error", err2)
				}
			}
			// Decompress reports the same.
			if _, err := decompressAll(t, b); !strings.Contains(fmtErr(err), want) {
				t.Errorf("Decompress: %v", err)
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// hideHeader returns an xz stream (check none) whose single LZMA chunk
// declares more packed bytes than its range coder uses and hides, in the
// extra bytes, an end-of-data byte, block padding and a block header with
// dictionary property prop: what ulikunitz/xz reads as the next block.
func hideHeader(t *testing.T, prop byte) []byte {
	orig := xzCLI(t, bytes.Repeat([]byte("hello world "), 50), "--check=none")
	c := xzStreamHeaderLen + (int(orig[xzStreamHeaderLen])+1)*4
	hl := 5
	if (orig[c]>>5)&3 >= 2 {
		hl = 6
	}
	if orig[c] < 0x80 {
		t.Fatalf("first chunk is not LZMA: %#x", orig[c])
	}
	packed := int(binary.BigEndian.Uint16(orig[c+3:])) + 1
	end := c + hl + packed
	junk := []byte{0}
	for (hl+packed+len(junk))%4 != 0 {
		junk = append(junk, 0)
	}
	h := []byte{2, 0, lzma2FilterID, 1, prop, 0, 0, 0}
	h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(h))
	junk = append(junk, h...)
	out := append([]byte{}, orig[:end]...)
	binary.BigEndian.PutUint16(out[c+3:], uint16(packed+len(junk)-1))
	out = append(out, junk...)
	return append(out, orig[end:]...)
}

// TestXZHiddenHeader: a block header hidden in the declared packed size
// of an LZMA chunk. ulikunitz/xz alone parses it (so a byte filter in front
// of it that walks the chunk framing would be bypassed); this reader makes
// the decoder's input end where the framing says and refuses the stream.
func TestXZHiddenHeader(t *testing.T) {
	b := hideHeader(t, 41) // an invalid property: ulikunitz says so when it parses the header
	xr, err := xz.NewReader(bytes.NewReader(b))
	if err == nil {
		_, err = io.ReadAll(xr)
	}
	if err == nil || !strings.Contains(err.Error(), "wrong LZMA2 dictionary size property") {
		t.Fatalf("ulikunitz/xz: %v, want it to parse the hidden header", err)
	}
	b = hideHeader(t, 40)
	_, err = decompressAll(t, b)
	if !errors.Is(err, ErrMalformedXZ) || !strings.Contains(err.Error(), "ended inside a chunk") {
		t.Fatalf("err = %v, want the short chunk refused", err)
	}
}

// TestXZTruncated: every proper prefix of a valid file is an error naming
// the malformed stream, never a silent short read.
func TestXZTruncated(t *testing.T) {
	first := xzCLI(t, mixed(1500, 200), "--block-size=512", "--lzma2=dict=4KiB")
	full := append(first, xzCLI(t, []byte("x"), "--check=sha256", "--lzma2=dict=4KiB")...)
	for n := len(xzHeaderMagic); n < len(full); n++ {
		if n == len(first) {
			continue // a whole stream
		}
		r, err := newXZReader(bufio.NewReader(bytes.NewReader(full[:n])), maxXZDict)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if !errors.Is(err, ErrMalformedXZ) {
			t.Fatalf("prefix of %d/%d bytes: err = %v, want malformed", n, len(full), err)
		}
	}
}

// TestXZMalformed: corruptions of the container are named.
func TestXZMalformed(t *testing.T) {
	good := xzCLI(t, mixed(3000, 0), "--block-size=1KiB", "--lzma2=dict=4KiB")
	blocks := streamBlocks(t, good)
	set := func(off int, v byte) []byte {
		b := append([]byte{}, good...)
		b[off] = v
		return b
	}
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"trailing garbage", append(append([]byte{}, good...), "junk"...), "data after the end of the stream (6a 75 6e 6b...) is not another xz stream"},
		{"truncated second stream", append(append([]byte{}, good...), xzHeaderMagic...), "truncated in the stream header"},
		{"padding not a multiple of 4", append(append([]byte{}, good...), 0, 0), "stream padding is not a multiple of 4"},
		{"stream flags", set(7, 0x20), "reserved stream flags"},
		{"block flags", set(blocks[1]+1, 0x04), "block 2: reserved block flags"},
		{"block header CRC", set(blocks[1]+5, 1), "block 2: block header: non-zero header padding"},
		{"chunk control", set(blocks[1]+(int(good[blocks[1]])+1)*4, 0x05), "block 2: invalid LZMA2 chunk control byte 0x05"},
		{"footer magic", set(len(good)-1, 'X'), "stream footer magic"},
		{"index count", set(len(good)-xzFooterLen-int(binary.LittleEndian.Uint32(good[len(good)-8:])+1)*4+1, 1), "the index lists 1 blocks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decompressAll(t, tc.file)
			if !errors.Is(err, ErrMalformedXZ) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestXZDictCappedBySize: a block whose header declares its decoded size
// (xz -T) gets a dictionary no larger than that, not the 8 MiB of -6.
func TestXZDictCappedBySize(t *testing.T) {
	a := mixed(60<<10, 0)
	r, err := newXZReader(bufio.NewReader(bytes.NewReader(xzCLI(t, a, "-6", "-T2", "--block-size=24KiB"))), maxXZDict)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, a) {
		t.Fatalf("decoded %d bytes, %v", len(got), err)
	}
	if r.largestDict != 24<<10 {
		t.Errorf("largest dictionary %d bytes, want the 24 KiB block size", r.largestDict)
	}
}
