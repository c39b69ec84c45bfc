package recipe

import "testing"

func TestSupplierOf(t *testing.T) {
	tests := []struct {
		name string
		r    Recipe
		want string
	}{
		{"declared", Recipe{Supplier: "Person: Jane Doe (jane@example.org)", Source: Source{Deb: "x"}}, "Person: Jane Doe (jane@example.org)"},
		{"deb", Recipe{Source: Source{Deb: "busybox-static"}}, "Organization: Debian"},
		{"debsrc", Recipe{Source: Source{DebSrc: "hello"}}, "Organization: Debian"},
		{"gomod on a forge", Recipe{Source: Source{GoMod: "github.com/mccutchen/go-httpbin/v2@v2.26.0"}}, "Organization: github.com/mccutchen"},
		{"gomod elsewhere", Recipe{Source: Source{GoMod: "golang.org/x/text@v0.3.0"}}, "Organization: golang.org"},
		{"git on a forge", Recipe{Source: Source{Git: "https://gitlab.com/owner/proj.git"}}, "Organization: gitlab.com/owner"},
		{"url", Recipe{Source: Source{URL: "https://ftp.gnu.org/gnu/hello/hello-2.12.tar.gz"}}, "Organization: ftp.gnu.org"},
		{"file url", Recipe{Source: Source{URL: "file:///srv/src/x.tar.gz"}}, InRepo},
		{"path", Recipe{Source: Source{Path: "."}}, InRepo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.SupplierOf()
			if got != tc.want {
				t.Errorf("SupplierOf() = %q, want %q", got, tc.want)
			}
			if !ValidSupplier(got) {
				t.Errorf("%q is not a valid supplier", got)
			}
		})
	}
	for _, bad := range []string{"", "ACME", "Organization:", "Organization: ", "Tool: x", "Person: a\nb", "Organization: a (b) (c)"} {
		if ValidSupplier(bad) {
			t.Errorf("ValidSupplier(%q) = true", bad)
		}
	}
}
