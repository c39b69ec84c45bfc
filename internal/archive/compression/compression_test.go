package compression

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

func xzOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
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
	b[dictProp(t, b, xzStreamHeaderLen)] = 37 // 3 << 29
	end := xzStreamHeaderLen + (int(b[xzStreamHeaderLen])+1)*4 - 4
	binary.LittleEndian.PutUint32(b[end:], crc32.ChecksumIEEE(b[xzStreamHeaderLen:end]))
	_, _, err := Decompress(bytes.NewReader(b))
	if err == nil || !strings.Contains(err.Error(), "xz stream declares a 1536 MiB dictionary") {
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
