package plan

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the plan for people: one line per list, "-" for an
// empty one.
func (p *Plan) WriteText(w io.Writer) error {
	list := func(s []string) string {
		if len(s) == 0 {
			return "-"
		}
		return strings.Join(s, " ")
	}
	_, err := fmt.Fprintf(w, "base        %s\nhead        %s\nrecipes     %s\nrole files  %s\npackages    %s\nroles       %s\n",
		p.Base, p.Head, list(p.Recipes), list(p.RoleFiles), list(p.Packages), list(p.Roles))
	return err
}
