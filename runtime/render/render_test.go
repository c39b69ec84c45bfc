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
		{name: "join", src: `{{join "," (slice .Name 0 3 | printf "%s" | split)}}`, err: `function "split" not defined`, line: 1},
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
