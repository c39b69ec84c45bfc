package builder

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/un-distro/undistro/builder/cache"
	"github.com/un-distro/undistro/builder/graph"
	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/builder/role"
	"github.com/un-distro/undistro/builder/source"
)

// unit is one package built with one set of effective options: the thing a
// cache key names. Two roles that agree on a package's options share it.
type unit struct {
	name    string
	recipe  *recipe.Recipe
	key     string
	srcID   string
	epoch   int64
	options map[string]string
	deps    []*unit // build dependencies (trees mounted at /deps/NAME)
	tools   []string
}

// plan is what Build will do: every role's package units, in build order.
type plan struct {
	recipes map[string]*recipe.Recipe
	graph   *graph.Graph
	roles   []*role.Role
	// images maps role name to its package units in image (layer) order.
	images map[string][]*unit
	// order lists every distinct unit once, dependencies first.
	order []*unit
}

type planner struct {
	cfg     *config
	recipes map[string]*recipe.Recipe
	graph   *graph.Graph
	src     *source.Cache
	epochs  *epochs
	tools   *hostTools
	srcIDs  map[string]string
	byKey   map[string]*unit
	order   []*unit
}

// makePlan loads the roles, resolves their packages and computes every
// cache key without fetching or building anything.
func makePlan(ctx context.Context, c *config, src *source.Cache, ep *epochs, roleNames []string) (*plan, error) {
	recipes, err := recipe.LoadDir(filepath.Join(c.repo, "recipes"))
	if err != nil {
		return nil, err
	}
	p := &plan{recipes: recipes, images: map[string][]*unit{}}
	var roots []string
	for _, name := range roleNames {
		r, err := role.Load(filepath.Join(c.repo, "images"), name)
		if err != nil {
			return nil, err
		}
		p.roles = append(p.roles, r)
		roots = append(roots, r.Packages...)
	}
	g, err := graph.Resolve(recipes, roots)
	if err != nil {
		return nil, err
	}
	p.graph = g
	pl := &planner{cfg: c, recipes: recipes, graph: g, src: src, epochs: ep, tools: &hostTools{},
		srcIDs: map[string]string{}, byKey: map[string]*unit{}}
	for _, r := range p.roles {
		memo := map[string]*unit{}
		for _, name := range g.RunClosure(r.Packages) {
			u, err := pl.unitFor(ctx, r, name, memo)
			if err != nil {
				return nil, err
			}
			p.images[r.Name] = append(p.images[r.Name], u)
		}
	}
	p.order = pl.order
	return p, nil
}

// unitFor computes the unit of package name in role r, its dependencies
// first. memo is per role: options are per role.
func (pl *planner) unitFor(ctx context.Context, r *role.Role, name string, memo map[string]*unit) (*unit, error) {
	if u, ok := memo[name]; ok {
		return u, nil
	}
	rc := pl.recipes[name]
	opts, err := rc.EffectiveOptions(r.OptionsFor(name))
	if err != nil {
		return nil, fmt.Errorf("role %s (%s): package %s: %w", r.Name, r.File, name, err)
	}
	parts := cache.KeyParts{Recipe: rc.Canonical(), Options: opts, Deps: map[string]string{},
		HostTools: map[string]string{}, Builder: Version}
	u := &unit{name: name, recipe: rc, options: opts}
	// Keys of build and run dependencies: a change to either rebuilds us.
	depNames := append(append([]string{}, pl.graph.BuildDeps(name)...), runDeps(rc)...)
	slices.Sort(depNames)
	for _, d := range slices.Compact(depNames) {
		du, err := pl.unitFor(ctx, r, d, memo)
		if err != nil {
			return nil, err
		}
		parts.Deps[d] = du.key
	}
	for _, d := range pl.graph.BuildDeps(name) {
		u.deps = append(u.deps, memo[d])
	}
	for _, t := range pl.graph.HostTools(name) {
		v, err := pl.tools.version(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rc.File, err)
		}
		parts.HostTools[t] = v
		u.tools = append(u.tools, t)
	}
	if u.srcID, err = pl.sourceID(ctx, rc); err != nil {
		return nil, err
	}
	parts.SourceID = u.srcID
	if u.epoch, err = pl.epoch(ctx, rc); err != nil {
		return nil, err
	}
	parts.Epoch = u.epoch
	u.key = cache.Key(parts)
	memo[name] = u
	if prev, ok := pl.byKey[u.key]; ok {
		memo[name] = prev
		return prev, nil
	}
	pl.byKey[u.key] = u
	pl.order = append(pl.order, u)
	return u, nil
}

func (pl *planner) sourceID(ctx context.Context, rc *recipe.Recipe) (string, error) {
	if id, ok := pl.srcIDs[rc.Name]; ok {
		return id, nil
	}
	id, err := pl.src.Identity(ctx, rc)
	if err != nil {
		return "", fmt.Errorf("%s: identifying source: %w", rc.File, err)
	}
	pl.srcIDs[rc.Name] = id
	return id, nil
}

// epoch dates a package by the last commit of its recipe and, for a path
// source, of the directory it builds from.
func (pl *planner) epoch(ctx context.Context, rc *recipe.Recipe) (int64, error) {
	rel, err := filepath.Rel(pl.cfg.repo, rc.File)
	if err != nil {
		rel = rc.File
	}
	e, err := pl.epochs.of(ctx, rel)
	if err != nil || rc.Source.Kind() != "path" {
		return e, err
	}
	specs := []string{filepath.Clean(rc.Source.Path)}
	for _, x := range rc.Source.Exclude {
		specs = append(specs, ":!"+filepath.Clean(filepath.Join(rc.Source.Path, x)))
	}
	d, err := pl.epochs.of(ctx, specs...)
	return max(e, d), err
}

func runDeps(rc *recipe.Recipe) []string {
	var out []string
	for _, d := range rc.Deps.Run {
		if !strings.HasPrefix(d, "host:") {
			out = append(out, d)
		}
	}
	return out
}
