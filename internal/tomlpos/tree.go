package tomlpos

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// kind is the TOML type of a node.
type kind int

const (
	kString kind = iota
	kInteger
	kFloat
	kBool
	kDatetime
	kArray
	kTable
)

func (k kind) String() string {
	return [...]string{"string", "integer", "float", "boolean", "datetime", "array", "table"}[k]
}

// node is one TOML value with where it was written. It is built from
// go-toml's unstable parser so that every value keeps its position, which
// go-toml's decoder forgets after the first error.
type node struct {
	kind    kind
	pos     Position // of the value; of its key or header where it has none
	keyPos  Position // of its key; zero for array elements
	str     string   // string value; raw text of numbers and datetimes
	integer int64
	intErr  error
	boolean bool
	list    []*node

	// Tables.
	keys     []string
	fields   map[string]*node
	explicit bool // defined by a [header]
	inline   bool // an inline table: closed to later additions
	aot      bool // an array of tables ([[header]]); its tables are in list
}

func newTable(pos Position) *node {
	return &node{kind: kTable, pos: pos, keyPos: pos, fields: map[string]*node{}}
}

func (t *node) set(key string, v *node) {
	t.keys = append(t.keys, key)
	t.fields[key] = v
}

// treeBuilder turns parser expressions into a tree of nodes.
type treeBuilder struct {
	p    *unstable.Parser
	file string
	errs Errors
}

// parseTree parses data into its root table. A syntax error stops parsing
// and is the only error reported with it (what follows it is unknown).
func parseTree(file string, data []byte) (root *node, errs Errors) {
	p := &unstable.Parser{}
	p.Reset(data)
	b := &treeBuilder{p: p, file: file}
	root = newTable(Position{1, 1})
	cur := root
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			b.keyValue(cur, e)
		case unstable.Table:
			cur = b.header(root, e, false)
		case unstable.ArrayTable:
			cur = b.header(root, e, true)
		}
	}
	if err := p.Error(); err != nil {
		return nil, Errors{b.syntaxError(err)}
	}
	return root, b.errs
}

func (b *treeBuilder) syntaxError(err error) (e *Error) {
	e = &Error{File: b.file, Line: 1, Col: 1, Msg: "syntax error: " + err.Error()}
	var perr *unstable.ParserError
	if errors.As(err, &perr) && perr.Highlight != nil {
		defer func() { _ = recover() }() // a highlight outside the data keeps 1:1
		pos := b.p.Shape(b.p.Range(perr.Highlight)).Start
		e.Line, e.Col = pos.Line, pos.Column
	}
	return e
}

// posOf is the position of a node that has raw bytes, else def.
func (b *treeBuilder) posOf(n *unstable.Node, def Position) Position {
	if n.Raw.Length == 0 {
		return def
	}
	s := b.p.Shape(n.Raw).Start
	return Position{s.Line, s.Column}
}

type keyPart struct {
	name string
	pos  Position
}

func (b *treeBuilder) keyParts(e *unstable.Node) []keyPart {
	var parts []keyPart
	it := e.Key()
	for it.Next() {
		k := it.Node()
		parts = append(parts, keyPart{string(k.Data), b.posOf(k, Position{})})
	}
	return parts
}

func (b *treeBuilder) errorf(pos Position, format string, args ...any) {
	b.errs.Add(b.file, pos, format, args...)
}

// descend walks the dotted prefix parts of a key from t, creating implicit
// tables. It returns nil (after reporting) when a part is not a table.
func (b *treeBuilder) descend(t *node, parts []keyPart, headers bool) *node {
	for _, k := range parts {
		child := t.fields[k.name]
		switch {
		case child == nil:
			child = newTable(k.pos)
			t.set(k.name, child)
		case child.aot && headers:
			child = child.list[len(child.list)-1]
		case child.kind != kTable || child.aot:
			b.errorf(k.pos, "key %q is already a %s (line %d): it cannot hold keys", k.name, child.kind, child.keyPos.Line)
			return nil
		case child.inline:
			b.errorf(k.pos, "key %q is an inline table (line %d): it cannot be extended", k.name, child.keyPos.Line)
			return nil
		}
		t = child
	}
	return t
}

func (b *treeBuilder) keyValue(t *node, e *unstable.Node) {
	parts := b.keyParts(e)
	last := parts[len(parts)-1]
	v := b.value(e.Value(), last.pos)
	if t = b.descend(t, parts[:len(parts)-1], false); t == nil {
		return
	}
	if prev, dup := t.fields[last.name]; dup {
		b.errorf(last.pos, "key %q is defined twice (first at line %d)", last.name, prev.keyPos.Line)
		return
	}
	t.set(last.name, v)
}

// header handles [a.b] and [[a.b]] and returns the table that the keys
// below it go into.
func (b *treeBuilder) header(root *node, e *unstable.Node, array bool) *node {
	parts := b.keyParts(e)
	last := parts[len(parts)-1]
	t := b.descend(root, parts[:len(parts)-1], true)
	if t == nil {
		return newTable(last.pos) // keys below go nowhere; reported already
	}
	name := headerName(parts)
	child := t.fields[last.name]
	if array {
		switch {
		case child == nil:
			child = &node{kind: kArray, aot: true, pos: last.pos, keyPos: last.pos}
			t.set(last.name, child)
		case !child.aot:
			b.errorf(last.pos, "[[%s]]: key %q is already a %s (line %d)", name, last.name, child.kind, child.keyPos.Line)
			return newTable(last.pos)
		}
		tbl := newTable(last.pos)
		tbl.explicit = true
		child.list = append(child.list, tbl)
		return tbl
	}
	switch {
	case child == nil:
		child = newTable(last.pos)
		t.set(last.name, child)
	case child.kind != kTable || child.aot || child.inline:
		b.errorf(last.pos, "[%s]: key %q is already a %s (line %d)", name, last.name, child.kind, child.keyPos.Line)
		return newTable(last.pos)
	case child.explicit:
		b.errorf(last.pos, "table [%s] is defined twice (first at line %d)", name, child.keyPos.Line)
		return newTable(last.pos)
	}
	child.explicit = true
	child.pos, child.keyPos = last.pos, last.pos
	return child
}

func headerName(parts []keyPart) string {
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = KeyString(p.name)
	}
	return strings.Join(names, ".")
}

func (b *treeBuilder) value(v *unstable.Node, keyPos Position) *node {
	n := &node{pos: b.posOf(v, keyPos), keyPos: keyPos}
	switch v.Kind {
	case unstable.String:
		n.kind, n.str = kString, string(v.Data)
	case unstable.Bool:
		n.kind, n.boolean = kBool, string(v.Data) == "true"
	case unstable.Integer:
		n.kind, n.str = kInteger, string(v.Data)
		n.integer, n.intErr = strconv.ParseInt(strings.ReplaceAll(n.str, "_", ""), 0, 64)
	case unstable.Float:
		n.kind, n.str = kFloat, string(v.Data)
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		n.kind, n.str = kDatetime, string(v.Data)
	case unstable.Array:
		n.kind = kArray
		it := v.Children()
		for it.Next() {
			if c := it.Node(); c.Kind != unstable.Comment {
				el := b.value(c, n.pos)
				el.keyPos = Position{}
				n.list = append(n.list, el)
			}
		}
	case unstable.InlineTable:
		n = newTable(b.posOf(v, keyPos))
		n.keyPos = keyPos
		it := v.Children()
		for it.Next() {
			if c := it.Node(); c.Kind == unstable.KeyValue {
				b.keyValue(n, c)
			}
		}
		n.inline = true
	default:
		panic(fmt.Sprintf("recipe: unexpected TOML node kind %s", v.Kind))
	}
	return n
}

// KeyString writes a key as TOML would: bare when it can be, else quoted.
func KeyString(k string) string {
	if k == "" {
		return `""`
	}
	for _, c := range []byte(k) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return strconv.Quote(k)
		}
	}
	return k
}
