package render

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"text/template/parse"
)

// builtinFuncs are text/template's data functions that templates use
// (and, or, not, len, index, print, printf, println, eq, ne, lt, le, gt,
// ge) and join. and/or are evaluated lazily, as text/template does.
var builtinFuncs = map[string]any{
	"join":    func(sep string, elems []string) string { return strings.Join(elems, sep) },
	"not":     func(v reflect.Value) bool { return !truth(v) },
	"len":     length,
	"index":   index,
	"print":   fmt.Sprint,
	"printf":  fmt.Sprintf,
	"println": fmt.Sprintln,
	"eq":      eq,
	"ne":      func(a, b reflect.Value) (bool, error) { r, err := eq(a, b); return !r, err },
	"lt":      func(a, b reflect.Value) (bool, error) { return less(a, b, false) },
	"le":      func(a, b reflect.Value) (bool, error) { return less(a, b, true) },
	"gt":      func(a, b reflect.Value) (bool, error) { r, err := less(a, b, true); return !r, err },
	"ge":      func(a, b reflect.Value) (bool, error) { r, err := less(a, b, false); return !r, err },
	"and":     nil, // lazy: see call
	"or":      nil,
}

var (
	reflectValueType = reflect.TypeFor[reflect.Value]()
	errorType        = reflect.TypeFor[error]()
)

// call evaluates the function name with the arguments args[1:] and final
// (the previous pipeline stage's value) last.
func (s *state) call(dot reflect.Value, name string, args []parse.Node, final reflect.Value) reflect.Value {
	node := s.node
	if name == "and" || name == "or" {
		var v reflect.Value
		all := args[1:]
		n := len(all)
		if final.IsValid() {
			n++
		}
		if n == 0 {
			s.errorf("%s needs an argument", name)
		}
		for i := range n {
			if i < len(all) {
				v = s.evalArg(dot, all[i])
			} else {
				v = final
			}
			if truth(v) == (name == "or") {
				return v
			}
		}
		return v
	}
	fn, ok := s.funcs[name]
	if !ok {
		s.errorf("%q is not a defined function", name)
	}
	typ := fn.Type()
	var argv []reflect.Value
	for _, a := range args[1:] {
		argv = append(argv, s.evalArg(dot, a))
	}
	if final.IsValid() {
		argv = append(argv, final)
	}
	s.node = node
	numIn := typ.NumIn()
	if typ.IsVariadic() {
		if len(argv) < numIn-1 {
			s.errorf("wrong number of args for %s: want at least %d got %d", name, numIn-1, len(argv))
		}
	} else if len(argv) != numIn {
		s.errorf("wrong number of args for %s: want %d got %d", name, numIn, len(argv))
	}
	in := make([]reflect.Value, len(argv))
	for i, a := range argv {
		var want reflect.Type
		if typ.IsVariadic() && i >= numIn-1 {
			want = typ.In(numIn - 1).Elem()
		} else {
			want = typ.In(i)
		}
		in[i] = s.convert(name, a, want)
	}
	out := fn.Call(in)
	if len(out) == 2 && !out[1].IsNil() {
		s.errorf("error calling %s: %v", name, out[1].Interface())
	}
	if len(out) == 0 {
		return reflect.Value{}
	}
	if out[0].Type() == reflectValueType {
		return out[0].Interface().(reflect.Value)
	}
	return out[0]
}

// convert makes v an argument of type want.
func (s *state) convert(fn string, v reflect.Value, want reflect.Type) reflect.Value {
	if want == reflectValueType {
		return reflect.ValueOf(v)
	}
	v = indirectInterface(v)
	if !v.IsValid() {
		switch want.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map:
			return reflect.Zero(want)
		}
		s.errorf("invalid value; expected %s for %s", want, fn)
	}
	if v.Type().AssignableTo(want) {
		return v
	}
	// A []any of strings (TOML arrays) where []string is wanted.
	if want.Kind() == reflect.Slice && v.Kind() == reflect.Slice {
		out := reflect.MakeSlice(want, v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(s.convert(fn, v.Index(i), want.Elem()))
		}
		return out
	}
	if isNumber(v.Kind()) && isNumber(want.Kind()) {
		return v.Convert(want)
	}
	s.errorf("wrong type for value; expected %s; got %s (in %s)", want, v.Type(), fn)
	return reflect.Value{}
}

func indirectInterface(v reflect.Value) reflect.Value {
	for v.IsValid() && v.Kind() == reflect.Interface {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	return v
}

func isNumber(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Float64
}

func length(v reflect.Value) (int, error) {
	v = indirect(v)
	if !v.IsValid() {
		return 0, errors.New("len of nil")
	}
	switch v.Kind() {
	case reflect.Array, reflect.Chan, reflect.Map, reflect.Slice, reflect.String:
		return v.Len(), nil
	}
	return 0, fmt.Errorf("len of type %s", v.Type())
}

func index(item reflect.Value, keys ...reflect.Value) (reflect.Value, error) {
	v := indirect(item)
	for _, k := range keys {
		k = indirect(k)
		if !v.IsValid() {
			return reflect.Value{}, errors.New("index of untyped nil")
		}
		switch v.Kind() {
		case reflect.Array, reflect.Slice, reflect.String:
			if !k.IsValid() || !k.CanInt() {
				return reflect.Value{}, fmt.Errorf("cannot index %s with %v", v.Type(), k)
			}
			i := int(k.Int())
			if i < 0 || i >= v.Len() {
				return reflect.Value{}, fmt.Errorf("index out of range: %d", i)
			}
			v = indirect(v.Index(i))
		case reflect.Map:
			if !k.IsValid() || !k.Type().AssignableTo(v.Type().Key()) {
				return reflect.Value{}, fmt.Errorf("cannot index %s with %v", v.Type(), k)
			}
			e := v.MapIndex(k)
			if !e.IsValid() {
				return reflect.Value{}, fmt.Errorf("map has no entry for key %q", fmt.Sprint(k.Interface()))
			}
			v = indirect(e)
		default:
			return reflect.Value{}, fmt.Errorf("can't index item of type %s", v.Type())
		}
	}
	return v, nil
}

type kind int

const (
	badKind kind = iota
	boolKind
	intKind
	uintKind
	floatKind
	stringKind
)

func basicKind(v reflect.Value) kind {
	switch v.Kind() {
	case reflect.Bool:
		return boolKind
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intKind
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintKind
	case reflect.Float32, reflect.Float64:
		return floatKind
	case reflect.String:
		return stringKind
	}
	return badKind
}

func eq(a, b reflect.Value) (bool, error) {
	a, b = indirect(a), indirect(b)
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid(), nil
	}
	ka, kb := basicKind(a), basicKind(b)
	switch {
	case ka == intKind && kb == uintKind:
		return a.Int() >= 0 && uint64(a.Int()) == b.Uint(), nil
	case ka == uintKind && kb == intKind:
		return b.Int() >= 0 && a.Uint() == uint64(b.Int()), nil
	case ka != kb:
		return false, fmt.Errorf("incompatible types for comparison: %s and %s", a.Type(), b.Type())
	}
	switch ka {
	case boolKind:
		return a.Bool() == b.Bool(), nil
	case intKind:
		return a.Int() == b.Int(), nil
	case uintKind:
		return a.Uint() == b.Uint(), nil
	case floatKind:
		return a.Float() == b.Float(), nil
	case stringKind:
		return a.String() == b.String(), nil
	}
	return false, fmt.Errorf("can't compare values of type %s", a.Type())
}

// less reports a < b (or a <= b when orEqual).
func less(a, b reflect.Value, orEqual bool) (bool, error) {
	a, b = indirect(a), indirect(b)
	if !a.IsValid() || !b.IsValid() {
		return false, errors.New("can't compare nil")
	}
	ka, kb := basicKind(a), basicKind(b)
	var r int
	switch {
	case ka == intKind && kb == uintKind:
		r = cmp3(a.Int() < 0 || uint64(a.Int()) < b.Uint(), a.Int() >= 0 && uint64(a.Int()) == b.Uint())
	case ka == uintKind && kb == intKind:
		r = cmp3(b.Int() >= 0 && a.Uint() < uint64(b.Int()), b.Int() >= 0 && a.Uint() == uint64(b.Int()))
	case ka != kb:
		return false, fmt.Errorf("incompatible types for comparison: %s and %s", a.Type(), b.Type())
	case ka == intKind:
		r = cmp3(a.Int() < b.Int(), a.Int() == b.Int())
	case ka == uintKind:
		r = cmp3(a.Uint() < b.Uint(), a.Uint() == b.Uint())
	case ka == floatKind:
		r = cmp3(a.Float() < b.Float(), a.Float() == b.Float())
	case ka == stringKind:
		r = strings.Compare(a.String(), b.String())
	default:
		return false, fmt.Errorf("invalid type for comparison: %s", a.Type())
	}
	return r < 0 || orEqual && r == 0, nil
}

func cmp3(lt, eq bool) int {
	switch {
	case lt:
		return -1
	case eq:
		return 0
	}
	return 1
}
