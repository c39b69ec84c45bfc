package btmeta

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

var update = flag.Bool("update", false, "rewrite golden files")

// blob returns n deterministic bytes and their digest.
func blob(n int) ([]byte, string) { return testsupport.Blob(n, 2463534242) }

func TestPieceLength(t *testing.T) {
	for _, tc := range []struct {
		size, want int64
	}{
		{0, 64 << 10},
		{1, 64 << 10},
		{64 << 20, 64 << 10},
		{64<<20 + 1, 128 << 10},
		{1 << 30, 1 << 20},
		{16 << 30, 16 << 20},
		{1 << 40, 16 << 20},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			if got := PieceLength(tc.size); got != tc.want {
				t.Errorf("PieceLength(%d) = %d, want %d", tc.size, got, tc.want)
			}
		})
	}
}

// TestGoldenInfoHash pins the infohash of fixed blobs: a change here changes
// every signed manifest's annotations, so it must be deliberate.
func TestGoldenInfoHash(t *testing.T) {
	var out bytes.Buffer
	for _, n := range []int{0, 1, 64 << 10, 64<<10 + 1, 3<<20 + 17} {
		b, d := blob(n)
		in, err := Compute(bytes.NewReader(b), d, int64(n))
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Check(d, int64(n)); err != nil {
			t.Fatal(err)
		}
		again, err := Compute(bytes.NewReader(b), d, int64(n))
		if err != nil || again.Hash() != in.Hash() {
			t.Fatalf("computing twice: %v, %s vs %s", err, again.Hash(), in.Hash())
		}
		fmt.Fprintf(&out, "%d %s pieces=%d btih=%s\n", n, d, in.NumPieces(), in.Hash())
	}
	testsupport.Golden(t, "testdata/infohash.golden", out.Bytes(), *update)
}

func TestComputeRefuses(t *testing.T) {
	b, d := blob(1000)
	for _, tc := range []struct {
		name   string
		data   []byte
		digest string
		size   int64
		want   string
	}{
		{"short", b[:999], d, 1000, "999 bytes, want 1000"},
		{"long", append(bytes.Clone(b), 1), d, 1000, "more than 1000 bytes"},
		{"other content", bytes.Repeat([]byte{1}, 1000), d, 1000, "hashes to sha256:"},
		{"bad digest", b, "sha256:ABC", 1000, "want sha256:<64 lowercase hex>"},
		{"no algorithm", b, strings.TrimPrefix(d, "sha256:"), 1000, "want sha256:"},
		{"negative size", b, d, -1, "negative size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compute(bytes.NewReader(tc.data), tc.digest, tc.size)
			testsupport.WantErr(t, err, tc.want)
		})
	}
	_, err := Compute(bytes.NewReader(b[:10]), d, 1000)
	if !errors.Is(err, ErrMismatch) {
		t.Errorf("short blob: %v is not ErrMismatch", err)
	}
}

func TestCheckRefuses(t *testing.T) {
	b, d := blob(200 << 10)
	good, err := Compute(bytes.NewReader(b), d, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Info)
		want   string
	}{
		{"name", func(in *Info) { in.Name = strings.Repeat("0", 64) }, "is named"},
		{"length", func(in *Info) { in.Length++ }, "has length"},
		{"piece length", func(in *Info) { in.PieceLength *= 2 }, "piece length"},
		{"pieces", func(in *Info) { in.Pieces = in.Pieces[:20] }, "bytes of piece hashes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := *good
			tc.mutate(&in)
			err := in.Check(d, int64(len(b)))
			testsupport.WantErr(t, err, tc.want)
			if !errors.Is(err, ErrMismatch) {
				t.Errorf("%v is not ErrMismatch", err)
			}
		})
	}
}

func TestParseInfoHash(t *testing.T) {
	good := strings.Repeat("0a", 20)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"good", good, ""},
		{"upper", strings.ToUpper(good), "not lowercase hex"},
		{"short", good[:39], "got 39 characters"},
		{"urn", "urn:btih:" + good, "got 49 characters"},
		{"space", " " + good[1:], "character 1"},
		{"empty", "", "got 0 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseInfoHash(tc.in)
			testsupport.WantErr(t, err, tc.want)
			if err == nil && h.String() != tc.in {
				t.Errorf("round trip: %s != %s", h, tc.in)
			}
		})
	}
	_, ok, err := FromAnnotations(map[string]string{"x": "y"})
	if ok || err != nil {
		t.Errorf("no annotation: ok=%v err=%v", ok, err)
	}
	_, ok, err = FromAnnotations(map[string]string{Annotation: "zz"})
	if !ok || err == nil || !strings.Contains(err.Error(), Annotation) {
		t.Errorf("bad annotation: ok=%v err=%v", ok, err)
	}
}

func TestDecode(t *testing.T) {
	b, d := blob(300 << 10)
	in, err := Compute(bytes.NewReader(b), d, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	enc := in.Bencode()
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != in.Hash() || got.Check(d, int64(len(b))) != nil {
		t.Fatalf("decoded %+v differs", got)
	}
	for _, tc := range []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `at byte 0: want "d"`},
		{"trailing", string(enc) + "x", "1 bytes after the dictionary"},
		{"keys out of order", "d4:name1:a6:lengthi1e12:piece lengthi1e6:pieces0:e", `want key "length"`},
		{"leading zero", "d6:lengthi01e4:name1:a12:piece lengthi1e6:pieces0:e", "not canonical"},
		{"negative", "d6:lengthi-1e4:name1:a12:piece lengthi1e6:pieces0:e", "not canonical"},
		{"string past end", "d6:lengthi1e4:name99:a", "runs past the end"},
		{"zero piece length", "d6:lengthi1e4:name1:a12:piece lengthi0e6:pieces0:e", "not a valid single-file torrent"},
		{"odd pieces", "d6:lengthi1e4:name1:a12:piece lengthi1e6:pieces3:abce", "not a valid single-file torrent"},
		{"extra key", "d6:lengthi1e4:name1:a12:piece lengthi1e6:pieces0:7:privatei1ee", `want "e"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			testsupport.WantErr(t, err, tc.want)
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, n := range []int{0, 1, 70 << 10} {
		b, d := blob(n)
		in, _ := Compute(bytes.NewReader(b), d, int64(n))
		f.Add(in.Bencode())
	}
	f.Add([]byte("d6:lengthi1e4:name1:a12:piece lengthi1e6:pieces0:e"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := Decode(b)
		if err != nil {
			return
		}
		if !bytes.Equal(in.Bencode(), b) {
			t.Fatalf("accepted a non-canonical encoding %q", b)
		}
	})
}

func FuzzParseInfoHash(f *testing.F) {
	f.Add(strings.Repeat("ab", 20))
	f.Add("urn:btih:" + strings.Repeat("ab", 20))
	f.Add(strings.Repeat("AB", 20))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseInfoHash(s)
		if err == nil && h.String() != s {
			t.Fatalf("accepted %q, which spells %s", s, h)
		}
	})
}

// BenchmarkCompute: describing a blob reads it once (SHA-1 per piece and
// the sha256 check together); the builder pays this per layer.
func BenchmarkCompute(b *testing.B) {
	data, d := blob(32 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(bytes.NewReader(data), d, int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}
