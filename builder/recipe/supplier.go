package recipe

import (
	"net/url"
	"regexp"
	"strings"
)

// supplierRE is an SPDX supplier: "Organization: NAME" or "Person: NAME",
// optionally followed by " (email)", on one line.
var supplierRE = regexp.MustCompile(`^(Organization|Person): [^\s()][^()\n\r]*( \([^()\n\r]*\))?$`)

// ValidSupplier reports whether s is an SPDX supplier: "Organization: X"
// or "Person: X" (optionally followed by " (email)").
func ValidSupplier(s string) bool { return supplierRE.MatchString(s) }

// InRepo is the supplier of what this repository itself provides (path
// sources, local file URLs): undistro, the project that ships the recipes.
const InRepo = "Organization: undistro"

// codeHosts are forges whose first path element is the owner of the code.
var codeHosts = map[string]bool{
	"github.com": true, "gitlab.com": true, "bitbucket.org": true, "codeberg.org": true,
	"git.sr.ht": true, "salsa.debian.org": true,
}

// SupplierOf returns the recipe's supplier: its supplier field if set,
// otherwise a default from the source kind:
//
//   - deb, debsrc: "Organization: Debian";
//   - gomod, git, url: the code's origin, "Organization: HOST/OWNER" on a
//     forge such as github.com (github.com/mccutchen), else the host
//     ("Organization: ftp.gnu.org"); a file URL is in-repo;
//   - path, or anything without a host: [InRepo].
func (r *Recipe) SupplierOf() string {
	if r.Supplier != "" {
		return r.Supplier
	}
	s := r.Source
	switch s.Kind() {
	case "deb", "debsrc":
		return "Organization: Debian"
	case "gomod":
		mod, _, _ := strings.Cut(s.GoMod, "@")
		return origin("https://" + mod)
	case "git":
		return origin(s.Git)
	case "url":
		return origin(s.URL)
	}
	return InRepo
}

// origin returns "Organization: HOST[/OWNER]" for a URL, or InRepo when it
// names no host.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Scheme == "file" {
		return InRepo
	}
	host := strings.ToLower(u.Hostname())
	if codeHosts[host] {
		owner, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if owner != "" {
			return "Organization: " + host + "/" + owner
		}
	}
	return "Organization: " + host
}
