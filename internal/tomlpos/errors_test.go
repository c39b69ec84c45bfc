package tomlpos

import (
	"errors"
	"testing"
)

func TestSuggest(t *testing.T) {
	tests := []struct {
		name, in string
		cands    []string
		want     string
	}{
		{"one typo", "whoamii", []string{"whoami", "hello"}, ` (did you mean "whoami"?)`},
		{"swap", "sourec", []string{"name", "source", "service"}, ` (did you mean "source"?)`},
		{"too far", "zzz", []string{"hello"}, ""},
		{"exact is no suggestion", "hello", []string{"hello"}, ""},
		{"no candidates", "x", nil, ""},
		{"tie broken by name", "ab", []string{"bb", "aa"}, ` (did you mean "aa"?)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Suggest(tc.in, tc.cands); got != tc.want {
				t.Errorf("Suggest(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	var es Errors
	es.Add("b.toml", Position{2, 1}, "second %d", 2)
	es.Add("a.toml", Position{9, 3}, "first")
	es.Append(errors.New("plain"))
	es.Append(Errors{{File: "b.toml", Line: 1, Col: 1, Msg: "early"}, {File: "b.toml", Line: 2, Col: 1, Msg: "second 2"}})
	es.Append(&Error{File: "c.toml", Msg: "no position"})
	es.Sort()
	want := "plain\na.toml:9:3: first\nb.toml:1:1: early\nb.toml:2:1: second 2\nc.toml: no position"
	if got := es.Error(); got != want {
		t.Errorf("Errors:\n%s\nwant:\n%s", got, want)
	}
	var one *Error
	if !errors.As(es.Err(), &one) || one.Msg != "plain" {
		t.Errorf("errors.As does not find an *Error: %v", one)
	}
	if (Errors{}).Err() != nil {
		t.Error("empty Errors is not a nil error")
	}
}

func TestDropNear(t *testing.T) {
	decoded := Errors{{File: "f", Line: 2, Col: 3, Msg: "want string"}}
	es := Errors{{File: "f", Line: 2, Col: 3, Msg: "invalid"}, {File: "f", Line: 4, Col: 1, Msg: "other"}}
	got := DropNear(es, decoded)
	if len(got) != 1 || got[0].Msg != "other" {
		t.Errorf("DropNear = %v, want only the problem at 4:1", got)
	}
}
