package tomlpos

import (
	"strings"
	"testing"
)

type limits struct {
	Memory string `toml:"memory"`
	Tasks  int    `toml:"tasks"`
}

type unit struct {
	Name string `toml:"name"`
	limits
	Skipped string
}

// TestDecodeEmbedded checks an embedded struct lends its keys to the
// table: decoded, indexed by position, and listed for unknown-key hints.
func TestDecodeEmbedded(t *testing.T) {
	tests := []struct {
		name, doc string
		want      unit
		wantErr   string
	}{
		{"fields of both", "name = \"a\"\nmemory = \"64M\"\ntasks = 8\n", unit{Name: "a", limits: limits{Memory: "64M", Tasks: 8}}, ""},
		{"typo suggests an embedded key", "name = \"a\"\nmemroy = \"1G\"\n", unit{Name: "a"}, `t.toml:2:1: unknown key "memroy" (did you mean "memory"?)`},
		{"wrong type in embedded", "tasks = \"x\"\n", unit{}, `t.toml:1:1: key "tasks": want integer`},
		{"untagged field is no key", "Skipped = \"x\"\n", unit{}, `unknown key "Skipped"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got unit
			idx, errs := Decode("t.toml", []byte(tc.doc), &got)
			if tc.wantErr == "" {
				if len(errs) != 0 {
					t.Fatalf("Decode: %v", errs)
				}
				if p := idx.Lookup("tasks"); p != (Position{3, 1}) {
					t.Errorf("position of tasks = %v, want 3:1", p)
				}
			} else if len(errs) == 0 || !strings.Contains(errs.Error(), tc.wantErr) {
				t.Fatalf("Decode errors = %v, want %q", errs, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("decoded %+v, want %+v", got, tc.want)
			}
		})
	}
}
