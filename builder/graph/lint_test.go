package graph

import (
	"strings"
	"testing"
)

func TestLint(t *testing.T) {
	tests := []struct {
		name    string
		recipes string
		images  string
		want    []string
	}{
		{"every problem of recipes and roles", "testdata/lint/recipes", "testdata/lint/images", []string{
			`testdata/lint/images/web.toml:1:20: unknown package "whoam" (did you mean "whoami"?)`,
			`testdata/lint/images/web.toml:4:1: app has no option "nls" (it has none)`,
			`testdata/lint/images/web.toml:6:10: unknown service "whoami": no package of role web provides it (provided: none)`,
			`testdata/lint/recipes/app.toml:10:8: unknown dependency "whoamii" (did you mean "whoami"?)`,
			`testdata/lint/recipes/base.toml:10:8: unknown dependency "bsae" (did you mean "base"?)`}},
		{"cycle", "testdata/cycle", "testdata/none", []string{
			`testdata/cycle/a.toml:9:10: dependency cycle: a -> b -> c -> a`}},
		{"clean", "testdata/ok", "testdata/none", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Lint(tc.recipes, tc.images)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if want := strings.Join(tc.want, "\n"); got != want {
				t.Errorf("Lint:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
