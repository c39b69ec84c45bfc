package graph

import (
	"slices"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/builder/role"
)

// TestShippedLintClean checks that the repository's own recipes/ and
// images/ lint clean and resolve to the images they promise.
func TestShippedLintClean(t *testing.T) {
	if err := Lint("../../recipes", "../../images"); err != nil {
		t.Fatalf("shipped recipes and roles do not lint clean:\n%v", err)
	}
	recipes, err := recipe.LoadDir("../../recipes")
	if err != nil {
		t.Fatal(err)
	}
	web, err := role.Load("../../images", "web")
	if err != nil {
		t.Fatal(err)
	}
	g, err := Resolve(recipes, web.Packages)
	if err != nil {
		t.Fatal(err)
	}
	image := g.RunClosure(web.Packages)
	want := []string{"busybox", "ca-certificates", "hello", "httpbin", "undistro"}
	if !slices.Equal(slices.Sorted(slices.Values(image)), want) {
		t.Errorf("web image packages = %q, want %q", image, want)
	}
	svcs, err := web.Services(recipes, image)
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 1 || svcs[0].Name != "httpbin" || svcs[0].User != "httpbin" || svcs[0].Ready == nil {
		t.Errorf("web services = %+v, want httpbin as user httpbin with a readiness check", svcs)
	}
	opts, err := recipes["hello"].EffectiveOptions(web.OptionsFor("hello"))
	if err != nil || opts["nls"] != "false" {
		t.Errorf("hello options in web = %v, %v; want nls=false", opts, err)
	}
}
