package compression

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	ulikunitz := func(data []byte, blockSize int64) []byte { return xzOf(t, data, blockSize) }
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
		{"x86 BCJ", func() []byte { return xzCLI(t, a, "--x86", "--lzma2") }, a},
		{"ARM BCJ", func() []byte { return xzCLI(t, a, "--arm", "--lzma2") }, a},
		{"delta", func() []byte { return xzCLI(t, a, "--delta=dist=4", "--lzma2") }, a},
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

// TestXZUnsupportedFilters: a filter newer than the decoder (ARM64 BCJ,
// xz 5.4) is a clear error that says what to do.
func TestXZUnsupportedFilters(t *testing.T) {
	_, err := decompressAll(t, xzCLI(t, mixed(20<<10, 0), "--arm64", "--lzma2"))
	if !errors.Is(err, ErrMalformedXZ) || !strings.Contains(err.Error(), "recompress it without them") {
		t.Fatalf("err = %v, want the filter refused", err)
	}
}

// heapGrowth returns how many bytes f allocated (cumulative, freed or not).
func heapGrowth(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestXZHostileDictionary: a dictionary above the limit in any block of
// any stream is refused before it is allocated; the blocks before it
// decode.
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
	}{
		{"second block 4 GiB", multi, blocks[1], 40, a[:32<<10]},
		{"second stream 1 GiB", append(append([]byte{}, first...), multi...), len(first) + xzStreamHeaderLen, 36, a[:1000]},
		{"first block 512 MiB", multi, blocks[0], 34, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte{}, tc.file...)
			setDict(t, b, tc.header, tc.prop)
			var got []byte
			var err error
			grew := heapGrowth(func() {
				var dec io.ReadCloser
				if dec, _, err = Decompress(bytes.NewReader(b)); err == nil {
					got, err = io.ReadAll(dec)
				}
			})
			if !errors.Is(err, ErrXZDict) || !strings.Contains(err.Error(), "above the 256 MiB allowed: recompress it") {
				t.Fatalf("err = %v, want the dictionary refused", err)
			}
			if !bytes.HasPrefix(tc.decoded, got) {
				t.Errorf("decoded %d bytes before the refusal, not a prefix of the %d before the hostile block", len(got), len(tc.decoded))
			}
			if grew > maxXZDict {
				t.Errorf("decoding allocated %d MiB: the hostile dictionary was allocated", grew>>20)
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
// of an LZMA chunk, which ulikunitz/xz stops reading early and parses as
// the next block (its dictionary taken as a floor): refused, with no
// hostile dictionary allocated.
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
	grew := heapGrowth(func() { _, err = decompressAll(t, b) })
	if !errors.Is(err, ErrMalformedXZ) {
		t.Fatalf("err = %v, want the stream refused as malformed", err)
	}
	if grew > maxXZDict {
		t.Errorf("decoding allocated %d MiB", grew>>20)
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
		_, err := decompressAll(t, full[:n])
		if !errors.Is(err, ErrMalformedXZ) {
			t.Fatalf("prefix of %d/%d bytes: err = %v, want malformed", n, len(full), err)
		}
	}
}

// TestXZMalformed: corruptions of the container are refused as malformed,
// with what to do.
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
	}{
		{"trailing garbage", append(append([]byte{}, good...), "junk"...)},
		{"truncated second stream", append(append([]byte{}, good...), xzHeaderMagic...)},
		{"padding not a multiple of 4", append(append([]byte{}, good...), 0, 0)},
		{"stream flags", set(7, 0x20)},
		{"block flags", set(blocks[1]+1, 0x04)},
		{"block header CRC", set(blocks[1]+5, 1)},
		{"chunk control", set(blocks[1]+(int(good[blocks[1]])+1)*4, 0x05)},
		{"footer magic", set(len(good)-1, 'X')},
		{"index count", set(len(good)-xzFooterLen-int(binary.LittleEndian.Uint32(good[len(good)-8:])+1)*4+1, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decompressAll(t, tc.file)
			if !errors.Is(err, ErrMalformedXZ) || !strings.Contains(err.Error(), "corrupt or truncated") {
				t.Fatalf("err = %v, want it malformed", err)
			}
		})
	}
}
