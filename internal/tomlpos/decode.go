package tomlpos

import (
	"fmt"
	"reflect"
	"strings"
)

// Index maps the path of every decoded key to where it was written. A path
// is dotted, with [i] for array elements and keys that are not bare quoted:
// "source.sha256", "dependencies.build[1]", "service[0].ready.tcp",
// `options."hello.nls"`. Array elements map to the element's value (or the
// [[header]] of a table); keys map to the key.
type Index map[string]Position

// Lookup returns the position of path, or of its closest recorded parent,
// or 1:1.
func (ix Index) Lookup(path string) Position {
	for path != "" {
		if p, ok := ix[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return Position{1, 1}
}

// Decode strictly decodes the TOML document data (read from file) into v, a
// pointer to a struct whose fields carry `toml:"name"` tags. Unlike a plain
// decoder it does not stop at the first problem: it reports every syntax
// error, duplicate key, unknown key (with the closest valid key) and wrong
// type as an [Error] with its line and column. Supported field types are
// string, integers, bool, slices, maps with string keys, structs, pointers
// and any (string, bool, int64, float64, []any or map[string]any).
func Decode(file string, data []byte, v any) (Index, Errors) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic("tomlpos.Decode: v must be a pointer to a struct")
	}
	root, errs := parseTree(file, data)
	if root == nil {
		return Index{}, errs
	}
	d := &decoder{file: file, errs: errs, idx: Index{}}
	d.decode("", root, rv.Elem())
	return d.idx, d.errs
}

type decoder struct {
	file string
	errs Errors
	idx  Index
}

func join(parent, key string) string {
	if parent == "" {
		return KeyString(key)
	}
	return parent + "." + KeyString(key)
}

func (d *decoder) wrongType(path string, n *node, want string) {
	d.errs.Add(d.file, n.keyPosOrPos(), "key %q: want %s, got %s", path, want, n.kind)
}

func (n *node) keyPosOrPos() Position {
	if n.keyPos.Line != 0 {
		return n.keyPos
	}
	return n.pos
}

func (d *decoder) decode(path string, n *node, rv reflect.Value) {
	switch rv.Kind() {
	case reflect.String:
		if n.kind != kString {
			d.wrongType(path, n, "string")
			return
		}
		rv.SetString(n.str)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.kind != kInteger {
			d.wrongType(path, n, "integer")
			return
		}
		if n.intErr != nil || rv.OverflowInt(n.integer) {
			d.errs.Add(d.file, n.pos, "key %q: integer %s is out of range", path, n.str)
			return
		}
		rv.SetInt(n.integer)
	case reflect.Bool:
		if n.kind != kBool {
			d.wrongType(path, n, "boolean")
			return
		}
		rv.SetBool(n.boolean)
	case reflect.Slice:
		if n.kind != kArray {
			d.wrongType(path, n, "array")
			return
		}
		s := reflect.MakeSlice(rv.Type(), len(n.list), len(n.list))
		for i, el := range n.list {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.idx[p] = el.pos
			d.decode(p, el, s.Index(i))
		}
		rv.Set(s)
	case reflect.Map:
		if n.kind != kTable || n.aot {
			d.wrongType(path, n, "table")
			return
		}
		m := reflect.MakeMapWithSize(rv.Type(), len(n.keys))
		for _, k := range n.keys {
			p := join(path, k)
			el := n.fields[k]
			d.idx[p] = el.keyPosOrPos()
			ev := reflect.New(rv.Type().Elem()).Elem()
			d.decode(p, el, ev)
			m.SetMapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()), ev)
		}
		rv.Set(m)
	case reflect.Struct:
		d.decodeStruct(path, n, rv)
	case reflect.Pointer:
		ev := reflect.New(rv.Type().Elem())
		d.decode(path, n, ev.Elem())
		rv.Set(ev)
	case reflect.Interface:
		rv.Set(reflect.ValueOf(d.generic(path, n)))
	default:
		panic(fmt.Sprintf("tomlpos.Decode: unsupported field type %s at %q", rv.Type(), path))
	}
}

func (d *decoder) decodeStruct(path string, n *node, rv reflect.Value) {
	if n.kind != kTable || n.aot {
		d.wrongType(path, n, "table")
		return
	}
	fields := map[string][]int{}
	var names []string
	structFields(rv.Type(), nil, fields, &names)
	for _, k := range n.keys {
		el := n.fields[k]
		p := join(path, k)
		i, ok := fields[k]
		if !ok {
			in := ""
			if path != "" {
				in = " in [" + path + "]"
			}
			d.errs.Add(d.file, el.keyPosOrPos(), "unknown key %q%s%s", k, in, Suggest(k, names))
			continue
		}
		d.idx[p] = el.keyPosOrPos()
		d.decode(p, el, rv.FieldByIndex(i))
	}
}

// structFields maps each tagged field of t to its index path. An embedded
// struct without a tag lends its fields to t, as in encoding/json: one
// Go type can then hold keys that several tables share.
func structFields(t reflect.Type, index []int, fields map[string][]int, names *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		at := append(index[:len(index):len(index)], i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			structFields(f.Type, at, fields, names)
			continue
		}
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		fields[tag] = at
		*names = append(*names, tag)
	}
}

// generic decodes n for an `any` field.
func (d *decoder) generic(path string, n *node) any {
	switch n.kind {
	case kString, kFloat, kDatetime:
		if n.kind == kFloat {
			var f float64
			if _, err := fmt.Sscan(strings.ReplaceAll(n.str, "_", ""), &f); err == nil {
				return f
			}
		}
		return n.str
	case kBool:
		return n.boolean
	case kInteger:
		return n.integer
	case kArray:
		out := make([]any, len(n.list))
		for i, el := range n.list {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.idx[p] = el.pos
			out[i] = d.generic(p, el)
		}
		return out
	}
	out := make(map[string]any, len(n.keys))
	for _, k := range n.keys {
		p := join(path, k)
		d.idx[p] = n.fields[k].keyPosOrPos()
		out[k] = d.generic(p, n.fields[k])
	}
	return out
}
