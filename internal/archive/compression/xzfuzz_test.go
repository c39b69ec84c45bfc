package compression

import (
	"bufio"
	"bytes"
	"errors"
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
		})
	}
}

// FuzzXZGuard: arbitrary bytes never panic, never get a dictionary above
// the limit to the decoder, fail only with a malformed-stream or
// dictionary error, and what the reader accepts ulikunitz/xz alone
// decodes to the same bytes.
func FuzzXZGuard(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s[0])
	}
	const maxDict = 1 << 20 // small, so the fuzzer does not spend its time zeroing dictionaries
	const maxOut = 8 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newXZReader(bufio.NewReader(bytes.NewReader(data)), maxDict)
		var got []byte
		if err == nil {
			got, err = io.ReadAll(io.LimitReader(r, maxOut))
			if r.largestDict > maxDict {
				t.Fatalf("a %d-byte dictionary reached the decoder", r.largestDict)
			}
			if r.off > int64(len(data)) {
				t.Fatalf("consumed %d of %d bytes", r.off, len(data))
			}
		}
		var de *dictError
		if err != nil {
			if !errors.Is(err, ErrMalformedXZ) && !errors.As(err, &de) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if len(got) == maxOut {
			return
		}
		if r.off != int64(len(data)) {
			t.Fatalf("EOF after %d of %d bytes", r.off, len(data))
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
	})
}
