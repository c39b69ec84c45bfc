package render

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"
)

// MaxOutput bounds a rendered file (a template looping over its data must
// not fill the disk).
const MaxOutput = 4 << 20

// FuncNames are the functions a template may call: the built-in ones and
// those a node-side provider supplies through WithFuncs. Lint parses
// templates against these names; a provider adds its name here.
var FuncNames = []string{"join", "peers"}

// FuncMap maps function names to functions, as text/template's FuncMap
// (one is assignable to the other).
type FuncMap = map[string]any

// Renderer renders templates with a fixed set of functions.
type Renderer struct {
	funcs map[string]reflect.Value
}

// Option configures New.
type Option func(*Renderer) error

// WithFuncs adds functions to the renderer. Each name must be listed in
// FuncNames and not be a built-in one; each must be a function returning
// one value, or a value and an error. Default: only the built-in functions;
// a template calling a declared function nobody supplied fails to render,
// naming it.
func WithFuncs(fm FuncMap) Option {
	return func(r *Renderer) error {
		for name, f := range fm {
			if !slices.Contains(FuncNames, name) {
				return fmt.Errorf("template function %q is not declared in render.FuncNames", name)
			}
			if _, ok := builtinFuncs[name]; ok {
				return fmt.Errorf("template function %q is built in", name)
			}
			v := reflect.ValueOf(f)
			if !v.IsValid() || v.Kind() != reflect.Func || v.IsNil() {
				return fmt.Errorf("template function %q: not a function", name)
			}
			if t := v.Type(); t.NumOut() == 0 || t.NumOut() > 2 || t.NumOut() == 2 && t.Out(1) != errorType {
				return fmt.Errorf("template function %q: want one result, or a result and an error", name)
			}
			r.funcs[name] = v
		}
		return nil
	}
}

// New returns a Renderer with the built-in functions and opts applied.
func New(opts ...Option) (*Renderer, error) {
	r := &Renderer{funcs: map[string]reflect.Value{}}
	for name, f := range builtinFuncs {
		if f != nil {
			r.funcs[name] = reflect.ValueOf(f)
		}
	}
	for _, name := range FuncNames {
		if _, ok := builtinFuncs[name]; !ok {
			name := name
			r.funcs[name] = reflect.ValueOf(func(...any) (string, error) {
				return "", fmt.Errorf("function %q is not available on this node", name)
			})
		}
	}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, fmt.Errorf("configuring the renderer: %w", err)
		}
	}
	return r, nil
}

// known names every function a template may call, for the parser.
func known() map[string]any {
	m := map[string]any{}
	for name := range builtinFuncs {
		m[name] = true
	}
	for _, name := range FuncNames {
		m[name] = true
	}
	return m
}

// Check parses src as a template named file, without rendering it: what
// lint can know before a node's data exists.
func Check(file string, src []byte) error {
	_, err := parseTemplate(file, src)
	return err
}

func parseTemplate(file string, src []byte) (map[string]*parse.Tree, error) {
	trees, err := parse.Parse(file, string(src), "", "", known())
	if err != nil {
		return nil, positioned(file, err)
	}
	return trees, nil
}

// Render renders the template src, read from file (named in errors: use
// its path in the recipes repository), with data. A key the data lacks is
// an *Error naming file:line:col and the key.
func (r *Renderer) Render(file string, src []byte, data any) ([]byte, error) {
	trees, err := parseTemplate(file, src)
	if err != nil {
		return nil, err
	}
	var out limited
	if err := execute(file, trees, &out, r.funcs, data); err != nil {
		return nil, positioned(file, err)
	}
	return out.Bytes(), nil
}

// Error is a template that failed to parse or render.
type Error struct {
	File      string // the template's file
	Line, Col int    // 0 when unknown
	Key       string // the missing key, when that is what failed
	Msg       string
}

func (e *Error) Error() string {
	pos := e.File
	if e.Line > 0 {
		pos += ":" + strconv.Itoa(e.Line)
		if e.Col > 0 {
			pos += ":" + strconv.Itoa(e.Col)
		}
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: missing key %q (%s): set it in the node's node.toml under [values.TAG], or fix the template", pos, e.Key, e.Msg)
	}
	return pos + ": " + e.Msg
}

var (
	// "template: NAME:LINE:COL: executing "NAME" at <.Values.port>: map has no entry for key "port""
	posRE     = regexp.MustCompile(`^(\d+)(?::(\d+))?: (.*)$`)
	noEntryRE = regexp.MustCompile(`at <([^>]*)>: map has no entry for key "([^"]*)"`)
	noFieldRE = regexp.MustCompile(`at <([^>]*)>: can't evaluate field (\S+) in type`)
	nilRE     = regexp.MustCompile(`at <([^>]*)>: nil pointer evaluating`)
)

// positioned turns text/template's error text into an *Error.
func positioned(file string, err error) error {
	var ee *Error
	if errors.As(err, &ee) {
		keyOf(ee)
		return ee
	}
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "template: "+file+":")
	if !ok {
		return &Error{File: file, Msg: msg}
	}
	m := posRE.FindStringSubmatch(rest)
	if m == nil {
		return &Error{File: file, Msg: rest}
	}
	e := &Error{File: file, Msg: m[3]}
	e.Line, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		e.Col, _ = strconv.Atoi(m[2])
	}
	keyOf(e)
	return e
}

// keyOf sets e.Key when e says a key is missing.
func keyOf(e *Error) {
	switch {
	case noEntryRE.MatchString(e.Msg):
		k := noEntryRE.FindStringSubmatch(e.Msg)
		e.Key, e.Msg = k[2], "at <"+k[1]+">"
	case noFieldRE.MatchString(e.Msg):
		k := noFieldRE.FindStringSubmatch(e.Msg)
		e.Key, e.Msg = k[2], "at <"+k[1]+">"
	case nilRE.MatchString(e.Msg):
		k := nilRE.FindStringSubmatch(e.Msg)
		e.Key, e.Msg = k[1], "at <"+k[1]+">"
	}
}

// limited is a buffer that refuses to grow past MaxOutput.
type limited struct{ bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if l.Len()+len(p) > MaxOutput {
		return 0, fmt.Errorf("rendered output exceeds %d bytes", MaxOutput)
	}
	return l.Buffer.Write(p)
}
