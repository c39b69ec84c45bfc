package drift

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// splitLines splits b into lines that keep their "\n" (the last may lack
// it).
func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+1]))
		b = b[i+1:]
	}
	return out
}

// binary reports whether b looks like binary content (a NUL byte).
func binary(b []byte) bool { return bytes.IndexByte(b, 0) >= 0 }

// writeHunks writes the unified diff hunks (3 lines of context) that turn
// a into b, marking a last line without newline as git does.
func writeHunks(w io.Writer, a, b []byte) error {
	al, bl := splitLines(a), splitLines(b)
	m := difflib.NewMatcher(al, bl)
	for _, g := range m.GetGroupedOpCodes(3) {
		i1, i2, j1, j2 := g[0].I1, g[len(g)-1].I2, g[0].J1, g[len(g)-1].J2
		if _, err := fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(i1, i2), hunkRange(j1, j2)); err != nil {
			return err
		}
		for _, c := range g {
			if c.Tag == 'e' {
				for _, l := range al[c.I1:c.I2] {
					if err := line(w, ' ', l); err != nil {
						return err
					}
				}
				continue
			}
			if c.Tag == 'r' || c.Tag == 'd' {
				for _, l := range al[c.I1:c.I2] {
					if err := line(w, '-', l); err != nil {
						return err
					}
				}
			}
			if c.Tag == 'r' || c.Tag == 'i' {
				for _, l := range bl[c.J1:c.J2] {
					if err := line(w, '+', l); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func hunkRange(start, end int) string {
	n := end - start
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

func line(w io.Writer, op byte, l string) error {
	var err error
	if strings.HasSuffix(l, "\n") {
		_, err = fmt.Fprintf(w, "%c%s", op, l)
	} else {
		_, err = fmt.Fprintf(w, "%c%s\n\\ No newline at end of file\n", op, l)
	}
	return err
}
