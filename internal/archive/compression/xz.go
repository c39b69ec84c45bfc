package compression

import (
	"errors"
	"fmt"
	"io"

	xi2 "github.com/xi2/xz"
)

// maxXZDict caps the LZMA2 dictionary any block of an xz file may
// declare: a decoder allocates it whole, so a few hostile bytes could ask
// for 4 GiB. xz -9 uses 64 MiB.
const maxXZDict = 256 << 20

// ErrMalformedXZ is wrapped by every error about an xz file that is
// corrupt, truncated or uses options the decoder does not know.
var ErrMalformedXZ = errors.New("malformed xz stream")

// ErrXZDict is wrapped by the error about a block whose dictionary is
// above the limit.
var ErrXZDict = errors.New("xz dictionary too large")

// xzReader reads an xz file with github.com/xi2/xz, a Go port of XZ
// Embedded that implements the whole format: every filter (BCJ for each
// architecture it knows, delta) and check, concatenated streams with
// padding, and the index verified against the blocks. Each block's
// dictionary is checked against dictMax when its header is parsed, before
// it is allocated; the errors say what is wrong and what to do.
type xzReader struct {
	r       *xi2.Reader
	dictMax uint32
}

func newXZReader(r io.Reader, dictMax uint32) (*xzReader, error) {
	xr, err := xi2.NewReader(r, dictMax)
	if err != nil {
		return nil, xzError(err, dictMax)
	}
	return &xzReader{r: xr, dictMax: dictMax}, nil
}

func (x *xzReader) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if err != nil && err != io.EOF {
		err = xzError(err, x.dictMax)
	}
	return n, err
}

// xzError turns the decoder's terse errors into ones that say what to do.
// An error of the underlying reader is returned as is.
func xzError(err error, dictMax uint32) error {
	switch {
	case errors.Is(err, xi2.ErrMemlimit):
		return fmt.Errorf("%w: a block declares an LZMA2 dictionary above the %d MiB allowed: recompress it (xz -9 uses 64 MiB)", ErrXZDict, dictMax>>20)
	case errors.Is(err, xi2.ErrOptions):
		return fmt.Errorf("%w: %v (a filter or option this decoder does not know, such as ARM64 or RISC-V BCJ): recompress it without them", ErrMalformedXZ, err)
	case errors.Is(err, xi2.ErrFormat), errors.Is(err, xi2.ErrData), errors.Is(err, xi2.ErrBuf),
		errors.Is(err, xi2.ErrUnsupportedCheck), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %v: the file is corrupt or truncated; check its source and checksum", ErrMalformedXZ, err)
	}
	return err
}
