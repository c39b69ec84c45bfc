package recipe

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/un-distro/undistro/internal/tomlpos"
)

// Canonical returns the recipe as canonical JSON: object keys sorted, named
// as in TOML, empty values left out, no insignificant space, and without
// File. Two recipes that mean the same give the same bytes, whatever their
// formatting or comments, so the builder hashes it into cache keys.
func (r *Recipe) Canonical() []byte {
	v := canonicalValue(reflect.ValueOf(*r))
	b, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		panic(fmt.Sprintf("recipe: encoding canonical form: %v", err)) // only plain values reach here
	}
	return b
}

// canonicalValue turns v into nil (empty), or plain JSON values keyed by
// TOML names.
func canonicalValue(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			if x := canonicalValue(v.Field(i)); x != nil {
				out[tag] = x
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		out := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			x := canonicalValue(iter.Value())
			if x == nil { // keep the key: an empty value is still a value here
				x = ""
			}
			out[iter.Key().String()] = x
		}
		return out
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = canonicalValue(v.Index(i))
		}
		return out
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return canonicalValue(v.Elem())
	case reflect.String:
		if v.String() == "" {
			return nil
		}
		return v.String()
	case reflect.Bool:
		return v.Bool() // false is a value (an option default)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Int() == 0 {
			return nil
		}
		return v.Int()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	panic(fmt.Sprintf("recipe: no canonical form for %s", v.Type()))
}

// EffectiveOptions returns the value of every option of r, as the build sees
// it ("true", "false" or the string), after applying overrides (option name
// → bool or string, as a role sets them). An override naming no option of r,
// or of the wrong type, is an error that names it. Use [OptionEnv] for the
// variable names.
func (r *Recipe) EffectiveOptions(overrides map[string]any) (map[string]string, error) {
	names := make([]string, 0, len(r.Options))
	for n := range r.Options {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make(map[string]string, len(r.Options))
	for n, o := range r.Options {
		out[n] = optionString(o.Default)
	}
	overridden := make([]string, 0, len(overrides))
	for n := range overrides {
		overridden = append(overridden, n)
	}
	slices.Sort(overridden)
	var errs []string
	for _, n := range overridden {
		val := overrides[n]
		o, ok := r.Options[n]
		if !ok {
			valid := "it has none"
			if len(names) > 0 {
				valid = "valid: " + strings.Join(names, ", ")
			}
			errs = append(errs, fmt.Sprintf("%s has no option %q%s (%s)", r.Name, n, tomlpos.Suggest(n, names), valid))
			continue
		}
		if reflect.TypeOf(val) != reflect.TypeOf(o.Default) {
			errs = append(errs, fmt.Sprintf("option %s.%s: want %s, got %s", r.Name, n, typeName(o.Default), typeName(val)))
			continue
		}
		out[n] = optionString(val)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

func optionString(v any) string {
	switch v := v.(type) {
	case bool:
		if v {
			return "true"
		}
		return "false"
	case string:
		return v
	}
	return fmt.Sprint(v)
}
