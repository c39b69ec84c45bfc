package btmeta

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Annotation is the manifest layer-descriptor annotation whose value is the
// blob's infohash, 40 lowercase hex characters.
const Annotation = "dev.undistro.btih"

// Piece-length rule bounds; see the package comment.
const (
	MinPieceLength = 64 << 10
	MaxPieceLength = 16 << 20
	TargetPieces   = 1024
)

// ErrMismatch is returned (wrapped) when a blob or an info dictionary does
// not match the digest, size or infohash it was expected to have.
var ErrMismatch = errors.New("blob does not match its description")

// InfoHash is a v1 BitTorrent infohash: the SHA-1 of the bencoded info
// dictionary.
type InfoHash [20]byte

// String returns the hash as 40 lowercase hex characters, the annotation's
// form.
func (h InfoHash) String() string { return hex.EncodeToString(h[:]) }

// ParseInfoHash parses an annotation value: exactly 40 lowercase hex
// characters. Anything else (upper case, a "urn:btih:" prefix, base32,
// whitespace) is refused, so that one infohash has one spelling.
func ParseInfoHash(s string) (InfoHash, error) {
	var h InfoHash
	if len(s) != 40 {
		return h, fmt.Errorf("infohash %q: want 40 lowercase hex characters, got %d characters", clip(s), len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, fmt.Errorf("infohash %q: character %d (%q) is not lowercase hex", clip(s), i+1, c)
		}
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("infohash %q: %w", clip(s), err)
	}
	return h, nil
}

// FromAnnotations returns the infohash recorded in a descriptor's
// annotations. ok is false when there is none; a value that is present but
// malformed is an error naming the annotation.
func FromAnnotations(annotations map[string]string) (h InfoHash, ok bool, err error) {
	v, ok := annotations[Annotation]
	if !ok {
		return h, false, nil
	}
	h, err = ParseInfoHash(v)
	if err != nil {
		return h, true, fmt.Errorf("annotation %s: %w", Annotation, err)
	}
	return h, true, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// PieceLength returns the piece length of a blob of size bytes: the
// smallest power of two >= MinPieceLength with at most TargetPieces pieces,
// at most MaxPieceLength.
func PieceLength(size int64) int64 {
	pl := int64(MinPieceLength)
	for pl < MaxPieceLength && (size+pl-1)/pl > TargetPieces {
		pl *= 2
	}
	return pl
}

// Info is a blob's single-file info dictionary.
type Info struct {
	// Name is the blob digest's hex (without "sha256:").
	Name string
	// Length is the blob's size in bytes.
	Length int64
	// PieceLength is PieceLength(Length).
	PieceLength int64
	// Pieces is the concatenated SHA-1 of each piece.
	Pieces []byte
}

// NumPieces is the number of pieces of the blob.
func (in *Info) NumPieces() int { return len(in.Pieces) / sha1.Size }

// Bencode returns the canonical encoding of the dictionary (keys sorted).
func (in *Info) Bencode() []byte {
	var b strings.Builder
	b.WriteString("d6:lengthi")
	b.WriteString(strconv.FormatInt(in.Length, 10))
	b.WriteString("e4:name")
	b.WriteString(strconv.Itoa(len(in.Name)))
	b.WriteByte(':')
	b.WriteString(in.Name)
	b.WriteString("12:piece lengthi")
	b.WriteString(strconv.FormatInt(in.PieceLength, 10))
	b.WriteString("e6:pieces")
	b.WriteString(strconv.Itoa(len(in.Pieces)))
	b.WriteByte(':')
	b.Write(in.Pieces)
	b.WriteByte('e')
	return []byte(b.String())
}

// Hash returns the infohash: the SHA-1 of Bencode.
func (in *Info) Hash() InfoHash { return sha1.Sum(in.Bencode()) }

// Compute reads a blob of size bytes whose digest is "sha256:<hex>" from r
// and returns its info dictionary. It fails, wrapping ErrMismatch, unless r
// holds exactly size bytes with that digest.
func Compute(r io.Reader, digest string, size int64) (*Info, error) {
	name, err := digestHex(digest)
	if err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("describing blob %s: negative size %d", digest, size)
	}
	in := &Info{Name: name, Length: size, PieceLength: PieceLength(size)}
	n := (size + in.PieceLength - 1) / in.PieceLength
	in.Pieces = make([]byte, 0, n*sha1.Size)
	whole := sha256.New()
	piece := sha1.New()
	buf := make([]byte, 64<<10)
	var read, inPiece int64
	for {
		want := min(int64(len(buf)), in.PieceLength-inPiece)
		k, err := io.ReadFull(r, buf[:want])
		if k > 0 {
			read += int64(k)
			if read > size {
				return nil, fmt.Errorf("describing blob %s: more than %d bytes: %w", digest, size, ErrMismatch)
			}
			whole.Write(buf[:k])
			piece.Write(buf[:k])
			inPiece += int64(k)
			if inPiece == in.PieceLength {
				in.Pieces = piece.Sum(in.Pieces)
				piece.Reset()
				inPiece = 0
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("describing blob %s: %w", digest, err)
		}
	}
	if inPiece > 0 {
		in.Pieces = piece.Sum(in.Pieces)
	}
	if read != size {
		return nil, fmt.Errorf("describing blob %s: %d bytes, want %d: %w", digest, read, size, ErrMismatch)
	}
	if got := hex.EncodeToString(whole.Sum(nil)); got != name {
		return nil, fmt.Errorf("describing blob %s: its content hashes to sha256:%s: %w", digest, got, ErrMismatch)
	}
	return in, nil
}

func digestHex(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("digest %q: want sha256:<64 lowercase hex>", clip(digest))
	}
	return h, nil
}

// Check verifies that in is the canonical dictionary of a blob with digest
// and size: name, length and piece length as the rule gives them and one
// SHA-1 per piece. It cannot check the piece hashes themselves (only the
// blob can); the infohash, which the signature covers, does that.
func (in *Info) Check(digest string, size int64) error {
	name, err := digestHex(digest)
	if err != nil {
		return err
	}
	switch {
	case in.Name != name:
		return fmt.Errorf("torrent of %s is named %q: %w", digest, clip(in.Name), ErrMismatch)
	case in.Length != size:
		return fmt.Errorf("torrent of %s has length %d, want %d: %w", digest, in.Length, size, ErrMismatch)
	case in.PieceLength != PieceLength(size):
		return fmt.Errorf("torrent of %s has piece length %d, want %d: %w", digest, in.PieceLength, PieceLength(size), ErrMismatch)
	case int64(len(in.Pieces)) != (size+in.PieceLength-1)/in.PieceLength*sha1.Size:
		return fmt.Errorf("torrent of %s has %d bytes of piece hashes, want %d: %w", digest, len(in.Pieces), (size+in.PieceLength-1)/in.PieceLength*sha1.Size, ErrMismatch)
	}
	return nil
}
