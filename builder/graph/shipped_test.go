package graph

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/builder/role"
	"github.com/un-distro/undistro/runtime/imagespec"
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

// TestShippedServicesLeastPrivilege checks every service the shipped
// recipes provide, enabled in a role on top of the shipped ones (as `make
// bench` runs httpbin, busybox httpd and crond), runs as a user that is
// not root, with no capability, no setuid and not in the host's network
// (except the lb's balancer, which must reach other machines).
func TestShippedServicesLeastPrivilege(t *testing.T) {
	images := t.TempDir()
	if err := os.CopyFS(images, os.DirFS("../../images")); err != nil {
		t.Fatal(err)
	}
	recipes, err := recipe.LoadDir("../../recipes")
	if err != nil {
		t.Fatal(err)
	}
	all := "inherit = [\"web\", \"lb\"]\n"
	var provided []string
	for _, name := range slices.Sorted(maps.Keys(recipes)) {
		for _, s := range recipes[name].Services {
			all += "[service." + s.Name + "]\n"
			provided = append(provided, s.Name)
		}
	}
	if err := os.WriteFile(filepath.Join(images, "all.toml"), []byte(all), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := role.Load(images, "all")
	if err != nil {
		t.Fatal(err)
	}
	g, err := Resolve(recipes, r.Packages)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := r.Services(recipes, g.RunClosure(r.Packages))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range svcs {
		got = append(got, s.Name)
		uid := -1
		for _, u := range r.Users {
			if u.Name == s.User {
				uid = u.UID
			}
		}
		sb := s.Sandbox
		// The lb's balancer is the one service in the host's network: it
		// connects out to upstreams on other machines, which a private
		// namespace (loopback only, published ports in) cannot reach.
		hostNet := sb.Network == imagespec.NetworkHost && s.Name != "proxy"
		if uid <= 0 || len(sb.Capabilities) > 0 || sb.AllowSetuid || hostNet {
			t.Errorf("service %s: user %q (uid %d), sandbox %+v: want a user other than root, no capability, no setuid, no host network", s.Name, s.User, uid, sb)
		}
	}
	for _, want := range []string{"httpbin", "httpd", "crond", "proxy"} {
		if !slices.Contains(got, want) {
			t.Errorf("services %q lack %s (provided: %q)", got, want, provided)
		}
	}
}
