package render

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"
)

// The node evaluates templates itself, over text/template's parser (the
// same syntax, so lint and node agree), so that one rendering's work is
// bounded (maxSteps), which text/template's executor cannot do. Templates
// here read data (fields, map keys) and call functions; they cannot call
// methods of the data.

// maxSteps bounds the work one rendering may do ({{range 1000000000}}
// with no output would otherwise spin forever). A variable for the test.
var maxSteps = 10_000_000

// maxDepth bounds {{template}} recursion.
const maxDepth = 100

var (
	errBreak    = errors.New("break")
	errContinue = errors.New("continue")
)

type variable struct {
	name  string
	value reflect.Value
}

type state struct {
	file  string
	tree  *parse.Tree
	trees map[string]*parse.Tree
	w     io.Writer
	funcs map[string]reflect.Value
	vars  []variable
	steps int
	depth int
	node  parse.Node // the node being evaluated, for errors
}

// fail stops the rendering with an error at the current node.
type failure struct{ err *Error }

func (s *state) errorf(format string, args ...any) {
	e := &Error{File: s.file, Msg: fmt.Sprintf(format, args...)}
	if s.node != nil && s.tree != nil {
		loc, ctx := s.tree.ErrorContext(s.node)
		// loc is "name:line:col".
		if rest, ok := strings.CutPrefix(loc, s.tree.ParseName+":"); ok {
			l, c, _ := strings.Cut(rest, ":")
			e.Line, _ = strconv.Atoi(l)
			e.Col, _ = strconv.Atoi(c)
		}
		if ctx != "" {
			e.Msg = "at <" + ctx + ">: " + e.Msg
		}
	}
	panic(failure{e})
}

// missing fails for a key the data lacks.
func (s *state) missing(key string) {
	s.errorf("map has no entry for key %q", key)
}

func (s *state) step() {
	s.steps++
	if s.steps > maxSteps {
		s.errorf("the template does more than %d steps: simplify it", maxSteps)
	}
}

// execute renders tree with dot as data.
func execute(file string, trees map[string]*parse.Tree, w io.Writer, funcs map[string]reflect.Value, data any) (err error) {
	tree := trees[file]
	if tree == nil || tree.Root == nil {
		return nil
	}
	s := &state{file: file, tree: tree, trees: trees, w: w, funcs: funcs}
	dot := reflect.ValueOf(data)
	s.vars = []variable{{"$", dot}}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			err = f.err
		}
	}()
	if err := s.walk(dot, tree.Root); err != nil && !errors.Is(err, errBreak) && !errors.Is(err, errContinue) {
		return err
	}
	return nil
}

func (s *state) mark() int { return len(s.vars) }

func (s *state) pop(mark int) { s.vars = s.vars[:mark] }

func (s *state) walk(dot reflect.Value, node parse.Node) error {
	s.step()
	s.node = node
	switch n := node.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			if err := s.walk(dot, c); err != nil {
				return err
			}
		}
	case *parse.TextNode:
		if _, err := s.w.Write(n.Text); err != nil {
			s.errorf("%v", err)
		}
	case *parse.CommentNode:
	case *parse.ActionNode:
		val := s.evalPipeline(dot, n.Pipe)
		if len(n.Pipe.Decl) == 0 {
			s.node = n
			s.print(val)
		}
	case *parse.IfNode:
		return s.branch(dot, parse.NodeIf, n.Pipe, n.List, n.ElseList)
	case *parse.WithNode:
		return s.branch(dot, parse.NodeWith, n.Pipe, n.List, n.ElseList)
	case *parse.RangeNode:
		return s.walkRange(dot, n)
	case *parse.TemplateNode:
		t := s.trees[n.Name]
		if t == nil {
			s.errorf("no such template %q", n.Name)
		}
		if s.depth >= maxDepth {
			s.errorf("templates nested more than %d deep", maxDepth)
		}
		newDot := reflect.Value{}
		if n.Pipe != nil {
			newDot = s.evalPipeline(dot, n.Pipe)
		}
		sub := *s
		sub.tree, sub.depth, sub.vars = t, s.depth+1, []variable{{"$", newDot}}
		err := sub.walk(newDot, t.Root)
		s.steps = sub.steps
		if errors.Is(err, errBreak) || errors.Is(err, errContinue) {
			err = nil
		}
		return err
	case *parse.BreakNode:
		return errBreak
	case *parse.ContinueNode:
		return errContinue
	default:
		s.errorf("unknown node %s", node)
	}
	return nil
}

func (s *state) branch(dot reflect.Value, kind parse.NodeType, pipe *parse.PipeNode, list, elseList *parse.ListNode) error {
	mark := s.mark()
	defer s.pop(mark)
	val := s.evalPipeline(dot, pipe)
	if truth(val) {
		if kind == parse.NodeWith {
			dot = val
		}
		return s.walk(dot, list)
	}
	if elseList != nil {
		return s.walk(dot, elseList)
	}
	return nil
}

func (s *state) walkRange(dot reflect.Value, r *parse.RangeNode) error {
	mark := s.mark()
	defer s.pop(mark)
	val := indirect(s.evalPipeline(dot, r.Pipe))
	one := func(key, elem reflect.Value) (stop bool, err error) {
		if len(r.Pipe.Decl) > 0 {
			if r.Pipe.IsAssign {
				if len(r.Pipe.Decl) > 1 {
					s.setVar(r.Pipe.Decl[0].Ident[0], key)
					s.setVar(r.Pipe.Decl[1].Ident[0], elem)
				} else {
					s.setVar(r.Pipe.Decl[0].Ident[0], elem)
				}
			} else {
				s.vars[len(s.vars)-1].value = elem
				if len(r.Pipe.Decl) > 1 {
					s.vars[len(s.vars)-2].value = key
				}
			}
		}
		inner := s.mark()
		err = s.walk(elem, r.List)
		s.pop(inner)
		switch {
		case errors.Is(err, errBreak):
			return true, nil
		case errors.Is(err, errContinue):
			return false, nil
		}
		return err != nil, err
	}
	ran := false
	if val.IsValid() {
		switch val.Kind() {
		case reflect.Slice, reflect.Array:
			for i := range val.Len() {
				ran = true
				if stop, err := one(reflect.ValueOf(i), val.Index(i)); stop || err != nil {
					return err
				}
			}
		case reflect.Map:
			keys := val.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int {
				return strings.Compare(fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface()))
			})
			for _, k := range keys {
				ran = true
				if stop, err := one(k, val.MapIndex(k)); stop || err != nil {
					return err
				}
			}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			for i := range val.Int() {
				ran = true
				if stop, err := one(reflect.ValueOf(int(i)), reflect.ValueOf(int(i))); stop || err != nil {
					return err
				}
			}
		default:
			s.node = r
			s.errorf("range can't iterate over %v", val.Interface())
		}
	}
	if !ran && r.ElseList != nil {
		return s.walk(dot, r.ElseList)
	}
	return nil
}

func (s *state) setVar(name string, v reflect.Value) {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			s.vars[i].value = v
			return
		}
	}
	s.errorf("undefined variable: %s", name)
}

func (s *state) varValue(name string) reflect.Value {
	for i := len(s.vars) - 1; i >= 0; i-- {
		if s.vars[i].name == name {
			return s.vars[i].value
		}
	}
	s.errorf("undefined variable: %s", name)
	return reflect.Value{}
}

func (s *state) evalPipeline(dot reflect.Value, pipe *parse.PipeNode) reflect.Value {
	if pipe == nil {
		return reflect.Value{}
	}
	s.node = pipe
	var val reflect.Value
	for _, cmd := range pipe.Cmds {
		val = s.evalCommand(dot, cmd, val)
	}
	for _, v := range pipe.Decl {
		if pipe.IsAssign {
			s.setVar(v.Ident[0], val)
		} else {
			s.vars = append(s.vars, variable{v.Ident[0], val})
		}
	}
	return val
}

func (s *state) evalCommand(dot reflect.Value, cmd *parse.CommandNode, final reflect.Value) reflect.Value {
	s.step()
	first := cmd.Args[0]
	s.node = first
	switch n := first.(type) {
	case *parse.FieldNode:
		return s.evalFields(dot, dot, n.Ident, cmd.Args, final)
	case *parse.ChainNode:
		recv := s.evalArg(dot, n.Node)
		return s.evalFields(dot, recv, n.Field, cmd.Args, final)
	case *parse.IdentifierNode:
		return s.call(dot, n.Ident, cmd.Args, final)
	case *parse.PipeNode:
		s.noArgs(cmd.Args, final)
		return s.evalPipeline(dot, n)
	case *parse.VariableNode:
		v := s.varValue(n.Ident[0])
		if len(n.Ident) > 1 {
			return s.evalFields(dot, v, n.Ident[1:], cmd.Args, final)
		}
		s.noArgs(cmd.Args, final)
		return v
	}
	s.noArgs(cmd.Args, final)
	return s.evalArg(dot, first)
}

func (s *state) noArgs(args []parse.Node, final reflect.Value) {
	if len(args) > 1 || final.IsValid() {
		s.errorf("can't give argument to non-function %s", args[0])
	}
}

// evalArg evaluates a node used as a value.
func (s *state) evalArg(dot reflect.Value, n parse.Node) reflect.Value {
	s.node = n
	switch a := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.NilNode:
		s.errorf("nil is not a command")
	case *parse.FieldNode:
		return s.evalFields(dot, dot, a.Ident, nil, reflect.Value{})
	case *parse.VariableNode:
		v := s.varValue(a.Ident[0])
		if len(a.Ident) > 1 {
			return s.evalFields(dot, v, a.Ident[1:], nil, reflect.Value{})
		}
		return v
	case *parse.PipeNode:
		return s.evalPipeline(dot, a)
	case *parse.ChainNode:
		return s.evalFields(dot, s.evalArg(dot, a.Node), a.Field, nil, reflect.Value{})
	case *parse.IdentifierNode:
		return s.call(dot, a.Ident, []parse.Node{a}, reflect.Value{})
	case *parse.BoolNode:
		return reflect.ValueOf(a.True)
	case *parse.StringNode:
		return reflect.ValueOf(a.Text)
	case *parse.NumberNode:
		switch {
		case a.IsInt:
			return reflect.ValueOf(int(a.Int64))
		case a.IsUint:
			return reflect.ValueOf(a.Uint64)
		case a.IsFloat:
			return reflect.ValueOf(a.Float64)
		}
		s.errorf("unsupported number %s", a.Text)
	}
	s.errorf("can't handle %s", n)
	return reflect.Value{}
}

// evalFields walks .A.B.C from recv; args (after the first word) and final
// are refused: data has fields and keys, not methods.
func (s *state) evalFields(dot, recv reflect.Value, idents []string, args []parse.Node, final reflect.Value) reflect.Value {
	if len(args) > 1 || final.IsValid() {
		s.errorf("can't give argument to field %s: templates read data, they cannot call its methods", idents[len(idents)-1])
	}
	for _, id := range idents {
		recv = s.field(recv, id)
	}
	return recv
}

func (s *state) field(recv reflect.Value, name string) reflect.Value {
	v := indirect(recv)
	if !v.IsValid() {
		s.errorf("nil pointer evaluating %s", name)
	}
	switch v.Kind() {
	case reflect.Struct:
		f, ok := v.Type().FieldByName(name)
		if !ok || !f.IsExported() {
			s.errorf("can't evaluate field %s in type %s", name, v.Type())
		}
		return v.FieldByIndex(f.Index)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			s.errorf("can't index a map with non-string keys by %s", name)
		}
		e := v.MapIndex(reflect.ValueOf(name).Convert(v.Type().Key()))
		if !e.IsValid() {
			s.missing(name)
		}
		return e
	}
	s.errorf("can't evaluate field %s in type %s", name, v.Type())
	return reflect.Value{}
}

// indirect follows pointers and interfaces.
func indirect(v reflect.Value) reflect.Value {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	return v
}

// truth is text/template's: false, 0, "", nil and empty are false.
func truth(v reflect.Value) bool {
	v = indirect(v)
	if !v.IsValid() {
		return false
	}
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() > 0
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() != 0
	case reflect.Float32, reflect.Float64:
		return v.Float() != 0
	case reflect.Struct:
		return true
	case reflect.Func, reflect.Chan:
		return !v.IsNil()
	}
	return true
}

func (s *state) print(v reflect.Value) {
	v = indirect(v)
	var err error
	if !v.IsValid() {
		_, err = io.WriteString(s.w, "<no value>")
	} else {
		_, err = fmt.Fprint(s.w, v.Interface())
	}
	if err != nil {
		s.errorf("%v", err)
	}
}
