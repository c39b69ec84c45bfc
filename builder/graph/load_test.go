package graph

import (
	"slices"
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

func TestUsers(t *testing.T) {
	tests := []struct {
		name, dir, pkg string
		want           []string
		wantErr        string
	}{
		// unused (run = ["app"]) is in no role but is a recipe all the same.
		{name: "transitive users in build order", dir: "ok", pkg: "base", want: []string{"lib", "tool", "app", "unused"}},
		{name: "run dependency", dir: "ok", pkg: "conf", want: []string{"app", "unused"}},
		{name: "nobody uses a top recipe", dir: "ok", pkg: "unused", want: []string{}},
		{name: "unknown recipe suggests the closest", dir: "ok", pkg: "bsae", wantErr: `no recipe "bsae" in testdata/ok (did you mean "base"?)`},
		{name: "broken graph", dir: "cycle", pkg: "a", wantErr: "cycle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Users("testdata/"+tc.dir, tc.pkg)
			if testsupport.WantErr(t, err, tc.wantErr) {
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Users = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	g, err := Load("testdata/ok", "app")
	if err != nil {
		t.Fatal(err)
	}
	if g.Has("unused") || !g.Has("base") {
		t.Errorf("Load(app) resolved %q", g.Order())
	}
	all, err := Load("testdata/ok")
	if err != nil {
		t.Fatal(err)
	}
	if !all.Has("unused") {
		t.Errorf("Load() left out unused: %q", all.Order())
	}
}
