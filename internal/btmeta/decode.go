package btmeta

import (
	"bytes"
	"fmt"
	"strconv"
)

// maxInfoSize bounds an info dictionary: 1024 pieces (or 1024 per 16 GiB
// past that) stay far below it.
const maxInfoSize = 8 << 20

// Decode parses a bencoded info dictionary as Bencode writes it, and only
// that: the four keys in order, canonical integers, nothing after it. The
// bytes come from peers (ut_metadata) or files, so they are hostile: any
// other shape is an error naming the byte offset.
func Decode(b []byte) (*Info, error) {
	if len(b) > maxInfoSize {
		return nil, fmt.Errorf("info dictionary of %d bytes: more than %d", len(b), maxInfoSize)
	}
	d := decoder{b: b}
	in := &Info{}
	d.lit("d")
	d.key("length")
	in.Length = d.int()
	d.key("name")
	in.Name = string(d.str())
	d.key("piece length")
	in.PieceLength = d.int()
	d.key("pieces")
	in.Pieces = d.str()
	d.lit("e")
	if d.err == nil && d.off != len(b) {
		d.fail("%d bytes after the dictionary", len(b)-d.off)
	}
	if d.err != nil {
		return nil, fmt.Errorf("decoding info dictionary: %w", d.err)
	}
	if in.Length < 0 || in.PieceLength <= 0 || len(in.Pieces)%20 != 0 {
		return nil, fmt.Errorf("decoding info dictionary: length %d, piece length %d, %d bytes of pieces: not a valid single-file torrent", in.Length, in.PieceLength, len(in.Pieces))
	}
	return in, nil
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("at byte %d: "+format, append([]any{d.off}, args...)...)
	}
}

func (d *decoder) lit(s string) {
	if d.err != nil {
		return
	}
	if !bytes.HasPrefix(d.b[d.off:], []byte(s)) {
		d.fail("want %q", s)
		return
	}
	d.off += len(s)
}

func (d *decoder) key(k string) {
	if d.err != nil {
		return
	}
	if got := d.str(); d.err == nil && string(got) != k {
		d.fail("want key %q, got %q", k, clip(string(got)))
	}
}

// digits reads a canonical non-negative decimal number up to the byte end.
func (d *decoder) digits(end byte) int64 {
	i := bytes.IndexByte(d.b[d.off:], end)
	if i <= 0 || i > 18 {
		d.fail("want a number ended by %q", end)
		return 0
	}
	s := string(d.b[d.off : d.off+i])
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		d.fail("number %q is not canonical", s)
		return 0
	}
	d.off += i + 1
	return n
}

func (d *decoder) int() int64 {
	d.lit("i")
	if d.err != nil {
		return 0
	}
	return d.digits('e')
}

func (d *decoder) str() []byte {
	if d.err != nil {
		return nil
	}
	n := d.digits(':')
	if d.err != nil {
		return nil
	}
	if n > int64(len(d.b)-d.off) {
		d.fail("string of %d bytes runs past the end", n)
		return nil
	}
	s := bytes.Clone(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s
}
