package compression

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// xzOf compresses b with the ulikunitz/xz writer (blocks of blockSize,
// or its default when 0).
func xzOf(t *testing.T, b []byte, blockSize ...int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	var cfg xz.WriterConfig
	if len(blockSize) > 0 {
		cfg.BlockSize = blockSize[0]
	}
	w, err := cfg.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestXZHugeDictionary: an xz stream declaring a 1.5 GiB dictionary is
// refused before the decoder allocates it; a normal one passes.
func TestXZHugeDictionary(t *testing.T) {
	// The writer's own 1.5 GiB dictionary would cost seconds: patch the
	// property of a small stream and fix the header CRC.
	b := xzOf(t, []byte("x"))
	setDict(t, b, xzStreamHeaderLen, 37) // 3 << 29
	_, err := decompressAll(t, b)
	if !errors.Is(err, ErrXZDict) || !strings.Contains(err.Error(), "above the 256 MiB allowed") {
		t.Fatalf("err = %v, want the dictionary refused", err)
	}
	dec, kind, err := Decompress(bytes.NewReader(xzOf(t, []byte("hello"))))
	if err != nil || kind != XZ {
		t.Fatalf("normal xz: %v, %s", err, kind)
	}
	if b, _ := io.ReadAll(dec); string(b) != "hello" {
		t.Errorf("normal xz decoded to %q", b)
	}
}
