package tomlpos

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Position is a place in a file: 1-based line and column. The zero Position
// means "somewhere in the file".
type Position struct {
	Line, Col int
}

// Error is one problem in a recipe or role file, reported as
// FILE:LINE:COL: MESSAGE.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

// Error formats e as FILE:LINE:COL: MESSAGE, leaving out what is unknown.
func (e *Error) Error() string {
	switch {
	case e.File == "":
		return e.Msg
	case e.Line == 0:
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors is every problem found, one per line when printed.
type Errors []*Error

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Err returns es as an error, or nil when es is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Sort orders es by file, line, column and message, and drops duplicates.
func (es *Errors) Sort() {
	slices.SortStableFunc(*es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col), cmp.Compare(a.Msg, b.Msg))
	})
	*es = slices.CompactFunc(*es, func(a, b *Error) bool { return *a == *b })
}

// DropNear returns es without the problems found where a decoding problem
// of decoded already is: a value of the wrong type is not also invalid.
func DropNear(es, decoded Errors) Errors {
	at := map[Position]bool{}
	for _, e := range decoded {
		at[Position{e.Line, e.Col}] = true
	}
	return slices.DeleteFunc(es, func(e *Error) bool { return at[Position{e.Line, e.Col}] })
}

// Add appends a problem at pos in file.
func (es *Errors) Add(file string, pos Position, format string, args ...any) {
	*es = append(*es, &Error{File: file, Line: pos.Line, Col: pos.Col, Msg: fmt.Sprintf(format, args...)})
}

// Append adds err to es: its *Error items when it is Errors or *Error,
// otherwise a file-less problem with its text.
func (es *Errors) Append(err error) {
	if err == nil {
		return
	}
	var list Errors
	if errors.As(err, &list) {
		*es = append(*es, list...)
		return
	}
	var one *Error
	if errors.As(err, &one) {
		*es = append(*es, one)
		return
	}
	*es = append(*es, &Error{Msg: err.Error()})
}

// Suggest returns ` (did you mean "X"?)` for the candidate closest to name,
// or "" when none is close enough to be a likely typo.
func Suggest(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := levenshtein(name, c)
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD == 0 || bestD > max(2, len(name)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// levenshtein is the edit distance between a and b (insert, delete,
// substitute; bytes).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
