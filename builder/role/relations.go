package role

import (
	"github.com/un-distro/undistro/internal/tomlpos"
	"github.com/un-distro/undistro/runtime/imagespec"
)

// provideSpec is [provides.NAME]: what the role's nodes offer peers.
type provideSpec struct {
	Port int `toml:"port"`
}

// requireSpec is [requires.NAME]: the peers the role's nodes need.
type requireSpec struct {
	Role     string `toml:"role"`
	Provides string `toml:"provides"`
}

// checkRelations checks a file's [provides.*] and [requires.*].
func (p *parsed) checkRelations(errs *tomlpos.Errors) {
	for name, pr := range p.rf.Provides {
		key := "provides." + quoteKey(name)
		if !nameRE.MatchString(name) {
			*errs = append(*errs, p.at(key).errorf("", "[provides.%s]: use lower-case letters, digits and . _ - in the name", name))
		}
		if pr.Port < 1 || pr.Port > 65535 {
			*errs = append(*errs, p.at(key).errorf(".port", "[provides.%s]: port %d: want 1 to 65535", name, pr.Port))
		}
	}
	for name, rq := range p.rf.Requires {
		key := "requires." + quoteKey(name)
		if !nameRE.MatchString(name) {
			*errs = append(*errs, p.at(key).errorf("", "[requires.%s]: use lower-case letters, digits and . _ - in the name", name))
		}
		if !nameRE.MatchString(rq.Role) {
			*errs = append(*errs, p.at(key).errorf(".role", "[requires.%s]: role %q: name the role whose nodes it needs (role = \"web\")", name, rq.Role))
		}
		if !nameRE.MatchString(rq.Provides) {
			*errs = append(*errs, p.at(key).errorf(".provides", "[requires.%s]: provides %q: name what those nodes provide (provides = \"http\", their [provides.http])", name, rq.Provides))
		}
	}
}

// mergeRelations adds a file's relations to r, later files overriding
// earlier ones by name.
func mergeRelations(r *Role, p *parsed) {
	for name, pr := range p.rf.Provides {
		if r.Provides == nil {
			r.Provides = map[string]imagespec.Provide{}
		}
		r.Provides[name] = imagespec.Provide{Port: pr.Port}
	}
	for name, rq := range p.rf.Requires {
		if r.Requires == nil {
			r.Requires = map[string]imagespec.Require{}
		}
		r.Requires[name] = imagespec.Require{Role: rq.Role, Provides: rq.Provides}
	}
}
