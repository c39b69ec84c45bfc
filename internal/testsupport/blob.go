package testsupport

import (
	"crypto/sha256"
	"encoding/hex"
)

// Blob returns n deterministic, incompressible bytes (xorshift32 from
// seed; 0 counts as 1) and their sha256 digest "sha256:HEX": test layers
// whose content, digest and torrent are the same in every run.
func Blob(n int, seed uint32) (data []byte, digest string) {
	data = make([]byte, n)
	x := max(seed, 1)
	for i := range data {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		data[i] = byte(x)
	}
	d := sha256.Sum256(data)
	return data, "sha256:" + hex.EncodeToString(d[:])
}
