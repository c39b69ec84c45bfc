package graph

import (
	"slices"
	"strings"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
)

func load(t *testing.T, dir string) map[string]*recipe.Recipe {
	t.Helper()
	rs, err := recipe.LoadDir("testdata/" + dir)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name  string
		dir   string
		roots []string
		want  []string
	}{
		{"cycle with its path", "cycle", []string{"d"}, []string{
			`testdata/cycle/a.toml:9:10: dependency cycle: a -> b -> c -> a`}},
		{"unknown dependency with suggestion", "unknown", []string{"app"}, []string{
			`testdata/unknown/app.toml:10:8: unknown dependency "whoamii" (did you mean "whoami"?)`,
			`testdata/unknown/base.toml:10:8: unknown dependency "bsae" (did you mean "base"?)`}},
		{"unknown root", "ok", []string{"ap"}, []string{
			`unknown recipe "ap" (did you mean "app"?)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Resolve(load(t, tc.dir), tc.roots)
			if err == nil {
				t.Fatalf("Resolve succeeded with order %v", g.Order())
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	g, err := Resolve(load(t, "ok"), []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"order", g.Order(), []string{"base", "conf", "lib", "tool", "app"}},
		{"run closure leaves out build-only deps", g.RunClosure([]string{"app"}), []string{"base", "conf", "lib", "app"}},
		{"build deps with their run deps", g.BuildDeps("app"), []string{"base", "lib", "tool"}},
		{"direct deps", g.Deps("app"), []string{"conf", "lib", "tool"}},
		{"host tools", g.HostTools("tool"), []string{"gcc", "make"}},
		{"reverse deps of base", g.ReverseDeps("base"), []string{"lib", "tool", "app"}},
		{"reverse deps of a leaf user", g.ReverseDeps("app"), []string{}},
		{"unused recipe is not resolved", g.RunClosure([]string{"unused"}), []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Equal(tc.got, tc.want) {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	wantTree := `app 1.0
├── host:gcc
├── conf 1.0 (run)
├── lib 1.0 (build, run)
│   ├── host:make
│   └── base 1.0 (run)
└── tool 1.0 (build)
    ├── host:gcc
    ├── host:make
    └── base 1.0 (run) (*)
`
	if got := g.Tree("app"); got != wantTree {
		t.Errorf("Tree:\n%s\nwant:\n%s", got, wantTree)
	}
}

func TestResolveDeterministic(t *testing.T) {
	rs := load(t, "ok")
	first, err := Resolve(rs, []string{"unused", "app"})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		g, err := Resolve(rs, []string{"app", "unused"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(g.Order(), first.Order()) {
			t.Fatalf("order changed: %v then %v", first.Order(), g.Order())
		}
	}
}
