package render

import (
	"errors"
	"strings"
	"testing"
	"text/template"
)

type facts struct{ Hostname string }

type data struct {
	Name   string
	Facts  facts
	Values map[string]any
}

func TestRender(t *testing.T) {
	d := data{Name: "web-1", Facts: facts{Hostname: "h1"}, Values: map[string]any{"port": 8080, "db": map[string]any{"host": "db1"}}}
	tests := []struct {
		name, src, want, err string
		line, col            int
		key                  string
	}{
		{name: "values and facts", src: "host={{.Facts.Hostname}}\nport={{.Values.port}}\ndb={{.Values.db.host}}\n", want: "host=h1\nport=8080\ndb=db1\n"},
		{name: "unknown function", src: `{{join "," (split .Name)}}`, err: `function "split" not defined`, line: 1},
		{name: "missing value", src: "a\nport={{.Values.prot}}\n", err: `images/web/app.conf:2:14: missing key "prot" (at <.Values.prot>)`, line: 2, col: 14, key: "prot"},
		{name: "missing nested", src: "{{.Values.db.port}}", err: `missing key "port"`, line: 1, key: "port"},
		{name: "missing fact", src: "\n\n{{.Facts.Cpus}}", err: `images/web/app.conf:3:8: missing key "Cpus"`, line: 3, key: "Cpus"},
		{name: "syntax", src: "x\n{{.Values.port", err: "images/web/app.conf:2: unclosed action", line: 2},
		{name: "declared but not supplied", src: `{{peers "web"}}`, err: `function "peers" is not available on this node`, line: 1},
	}
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := r.Render("images/web/app.conf", []byte(tc.src), d)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if string(out) != tc.want {
					t.Fatalf("got %q, want %q", out, tc.want)
				}
				return
			}
			var e *Error
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *Error containing %q", err, tc.err)
			}
			if e.File != "images/web/app.conf" || e.Line != tc.line || tc.col != 0 && e.Col != tc.col || e.Key != tc.key {
				t.Fatalf("err = %+v, want line %d col %d key %q", e, tc.line, tc.col, tc.key)
			}
		})
	}
}

func TestWithFuncs(t *testing.T) {
	r, err := New(WithFuncs(template.FuncMap{"peers": func(role string) []string { return []string{role + "-1", role + "-2"} }}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Render("t", []byte(`{{join " " (peers "web")}}`), nil)
	if err != nil || string(out) != "web-1 web-2" {
		t.Fatalf("got %q, %v", out, err)
	}
	if _, err := New(WithFuncs(template.FuncMap{"undeclared": strings.ToUpper})); err == nil {
		t.Fatal("an undeclared function was accepted")
	}
	if _, err := New(WithFuncs(template.FuncMap{"join": strings.Join})); err == nil {
		t.Fatal("a built-in function was replaced")
	}
}

func TestOutputIsBounded(t *testing.T) {
	r, _ := New()
	_, err := r.Render("t", []byte(`{{.}}{{.}}{{.}}{{.}}{{.}}`), strings.Repeat("x", 1<<20))
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v", err)
	}
}

func TestCheck(t *testing.T) {
	if err := Check("f", []byte(`{{peers "web"}} {{.Values.anything}}`)); err != nil {
		t.Fatal(err)
	}
	if err := Check("f", []byte("\n{{nope}}")); err == nil || !strings.Contains(err.Error(), "f:2:") {
		t.Fatalf("Check = %v", err)
	}
}

func FuzzRender(f *testing.F) {
	f.Add("{{.Values.a}}")
	f.Add("{{range .Values}}{{.}}{{end}}")
	r, _ := New()
	f.Fuzz(func(t *testing.T, src string) {
		_, _ = r.Render("f", []byte(src), data{Values: map[string]any{"a": 1}})
	})
}

// TestSameAsTextTemplate renders templates with this package and with
// text/template (missingkey=error) and wants the same output: the node's
// evaluator follows text/template's semantics for what templates use.
func TestSameAsTextTemplate(t *testing.T) {
	type facts struct {
		Hostname  string
		Addresses []string
		CPUs      int
		Memory    uint64
	}
	type data struct {
		Name   string
		Tags   []string
		Facts  facts
		Values map[string]any
	}
	d := data{Name: "web-1", Tags: []string{"web-1", "web"}, Facts: facts{Hostname: "h", Addresses: []string{"10.0.0.1", "10.0.0.2"}, CPUs: 4, Memory: 1 << 30},
		Values: map[string]any{"port": int64(8080), "debug": false, "peers": []any{"a", "b"}, "db": map[string]any{"host": "db1", "port": int64(5432)}, "ratio": 0.5, "empty": ""}}
	for _, src := range []string{
		"plain text\n",
		"{{.Name}} {{.Facts.Hostname}} {{.Facts.CPUs}} {{.Facts.Memory}} {{.Values.port}} {{.Values.ratio}}",
		"{{range .Facts.Addresses}}listen {{.}}\n{{end}}",
		"{{range $i, $a := .Facts.Addresses}}{{$i}}={{$a}} {{end}}",
		"{{range $k, $v := .Values.db}}{{$k}}:{{$v}};{{end}}",
		"{{range .Values.peers}}{{.}},{{else}}none{{end}}",
		"{{range 3}}{{.}}{{end}}",
		"{{range .Facts.Addresses}}{{if eq . \"10.0.0.2\"}}{{break}}{{end}}{{.}}{{end}}",
		"{{range .Facts.Addresses}}{{if eq . \"10.0.0.1\"}}{{continue}}{{end}}{{.}}{{end}}",
		"{{if .Values.debug}}debug{{else if gt .Values.port 1024}}high{{else}}low{{end}}",
		"{{with .Values.db}}{{.host}}:{{.port}}{{end}}{{with .Values.empty}}x{{else}}no{{end}}",
		"{{$p := .Values.port}}{{$p}} {{$p = 1}}{{$p}}",
		"{{printf \"%s-%d\" .Name .Facts.CPUs}} {{print 1 2}} {{println \"x\"}}",
		"{{len .Tags}} {{index .Tags 1}} {{index .Values \"port\"}} {{index .Values.db \"host\"}}",
		"{{and 1 0 2}} {{or 0 \"\" \"x\"}} {{not .Values.debug}} {{and .Values.debug .Values.nope.x}}",
		"{{eq .Values.port 8080}} {{ne .Name \"x\"}} {{lt .Facts.CPUs 8}} {{le 2 2}} {{ge 3 4}} {{eq .Facts.Memory 1073741824}}",
		"{{.Name | printf \"%q\"}} {{\"a\" | printf \"%s%s\" \"b\"}}",
		"{{- /* a comment */ -}}\n  trimmed  {{- .Name -}}  \n",
		"{{define \"peer\"}}[{{.}}]{{end}}{{range .Tags}}{{template \"peer\" .}}{{end}}",
		"{{(index .Values.db \"host\")}} {{$.Name}}",
	} {
		want, werr := textTemplate(src, d)
		got, gerr := mustRender(t, src, d)
		if werr != nil || gerr != nil || got != want {
			t.Errorf("template %q:\n got  %q (%v)\n want %q (%v)", src, got, gerr, want, werr)
		}
	}
	// Both refuse a missing key.
	for _, src := range []string{"{{.Values.nope}}", "{{.Values.db.nope}}", "{{.Facts.Nope}}"} {
		_, werr := textTemplate(src, d)
		_, gerr := mustRender(t, src, d)
		if werr == nil || gerr == nil {
			t.Errorf("template %q: text/template %v, render %v: want both to fail", src, werr, gerr)
		}
	}
}

func textTemplate(src string, d any) (string, error) {
	tm, err := template.New("t").Funcs(template.FuncMap{"join": strings.Join}).Option("missingkey=error").Parse(src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = tm.Execute(&b, d)
	return b.String(), err
}

func mustRender(t *testing.T, src string, d any) (string, error) {
	t.Helper()
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Render("t", []byte(src), d)
	return string(out), err
}

func TestStepBudget(t *testing.T) {
	defer func(n int) { maxSteps = n }(maxSteps)
	maxSteps = 100_000
	r, _ := New()
	_, err := r.Render("t", []byte("{{range 1000000000000}}{{end}}"), nil)
	if err == nil || !strings.Contains(err.Error(), "steps") {
		t.Fatalf("err = %v", err)
	}
}
