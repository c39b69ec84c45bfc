package compression

import (
	"bytes"
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
	var buf bytes.Buffer
	w, err := xz.WriterConfig{DictCap: 1536 << 20}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	w.Close()
	_, _, err = Decompress(bytes.NewReader(buf.Bytes()))
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
