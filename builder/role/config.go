package role

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/un-distro/undistro/internal/tomlpos"
	"github.com/un-distro/undistro/runtime/imagespec"
	"github.com/un-distro/undistro/runtime/render"
)

// checkConfigPolicy checks the role's merge and drift keys.
func (p *parsed) checkConfigPolicy(errs *tomlpos.Errors) {
	if err := (imagespec.ConfigPolicy{Merge: p.rf.Merge}).Validate(); err != nil {
		*errs = append(*errs, p.at("merge").errorf("", "%v: what a switch does with a file under /etc edited on the node that the image changed too", err))
	}
	if err := (imagespec.ConfigPolicy{Drift: p.rf.Drift}).Validate(); err != nil {
		*errs = append(*errs, p.at("drift").errorf("", "%v: what the node does when a managed file under /etc is edited", err))
	}
}

// checkTemplate checks a template file: it must be under /etc (the only
// place a node writes) and parse; its errors name the template's own
// file:line.
func (p *parsed) checkTemplate(at origin, f fileSpec, src string, errs *tomlpos.Errors) {
	if !strings.HasPrefix(f.Path, "/etc/") {
		*errs = append(*errs, at.errorf(".template", "[[file]] %s: a template is rendered into the node's writable /etc: put it under /etc/", f.Path))
	}
	data, err := os.ReadFile(src)
	if err != nil {
		*errs = append(*errs, at.errorf(".source", "[[file]] %s: %v", f.Path, err))
		return
	}
	name := filepath.Join(p.dir, f.Source)
	if err := render.Check(name, data); err != nil {
		var re *render.Error
		if errors.As(err, &re) {
			*errs = append(*errs, &tomlpos.Error{File: name, Line: max(re.Line, 1), Col: max(re.Col, 1), Msg: re.Msg + " (template of [[file]] " + f.Path + ")"})
			return
		}
		*errs = append(*errs, at.errorf(".source", "[[file]] %s: %v", f.Path, err))
	}
}
