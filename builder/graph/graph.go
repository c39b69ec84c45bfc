package graph

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/un-distro/undistro/builder/recipe"
	"github.com/un-distro/undistro/internal/tomlpos"
)

// HostPrefix marks a build dependency on a tool of the build host.
const HostPrefix = "host:"

// edge is a dependency of one recipe on another.
type edge struct {
	to         string
	build, run bool
	key        string // where the dependency is written, for errors
}

// Graph is the resolved dependency closure of some roots. Its methods never
// change it; it is safe for concurrent use.
type Graph struct {
	recipes map[string]*recipe.Recipe
	order   []string       // build order: every recipe after its deps
	rank    map[string]int // index in order
	edges   map[string][]edge
	host    map[string][]string
}

// Resolve returns the closure of roots over build and run dependencies of
// recipes. Host tools ("host:gcc") are not recipes: they are kept apart
// ([Graph.HostTools]). An unknown root or dependency, or a cycle, is an
// error ([tomlpos.Errors]) naming where it is written, the closest recipe
// name, and for a cycle its path "a -> b -> c -> a".
func Resolve(recipes map[string]*recipe.Recipe, roots []string) (*Graph, error) {
	g, errs := resolve(recipes, roots)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return g, nil
}

// resolve builds as much of the graph as it can and reports every problem.
// With a cycle, order leaves out the recipes on and after it.
func resolve(recipes map[string]*recipe.Recipe, roots []string) (*Graph, tomlpos.Errors) {
	g := &Graph{recipes: recipes, rank: map[string]int{}, edges: map[string][]edge{}, host: map[string][]string{}}
	var errs tomlpos.Errors
	names := sortedKeys(recipes)
	var queue []string
	seen := map[string]bool{}
	for _, r := range slices.Sorted(slices.Values(roots)) {
		if recipes[r] == nil {
			errs = append(errs, &tomlpos.Error{Msg: fmt.Sprintf("unknown recipe %q%s", r, tomlpos.Suggest(r, names))})
			continue
		}
		if !seen[r] {
			seen[r] = true
			queue = append(queue, r)
		}
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		r := recipes[name]
		byName := map[string]int{}
		add := func(kind string, i int, dep string) {
			key := fmt.Sprintf("dependencies.%s[%d]", kind, i)
			if tool, ok := strings.CutPrefix(dep, HostPrefix); ok {
				if !slices.Contains(g.host[name], tool) {
					g.host[name] = append(g.host[name], tool)
				}
				return
			}
			if recipes[dep] == nil {
				errs = append(errs, r.Errorf(key, "unknown dependency %q%s", dep, tomlpos.Suggest(dep, names)))
				return
			}
			j, ok := byName[dep]
			if !ok {
				j = len(g.edges[name])
				byName[dep] = j
				g.edges[name] = append(g.edges[name], edge{to: dep, key: key})
			}
			e := &g.edges[name][j]
			e.build = e.build || kind == "build"
			e.run = e.run || kind == "run"
			if !seen[dep] {
				seen[dep] = true
				queue = append(queue, dep)
			}
		}
		for i, d := range r.Deps.Build {
			add("build", i, d)
		}
		for i, d := range r.Deps.Run {
			add("run", i, d)
		}
		slices.SortFunc(g.edges[name], func(a, b edge) int { return strings.Compare(a.to, b.to) })
		slices.Sort(g.host[name])
	}
	errs = append(errs, g.cycles(sortedKeys(seen))...)
	g.topo(sortedKeys(seen))
	return g, errs
}

// cycles reports every cycle found by a depth-first walk in name order,
// each at the dependency that starts it.
func (g *Graph) cycles(nodes []string) tomlpos.Errors {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []edge // stack[i].to is the i-th node on the path
	var errs tomlpos.Errors
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		for _, e := range g.edges[n] {
			switch color[e.to] {
			case grey:
				// The cycle starts where e.to is on the stack.
				i := slices.IndexFunc(stack, func(s edge) bool { return s.to == e.to })
				path := []string{}
				for _, s := range stack[i:] {
					path = append(path, s.to)
				}
				path = append(path, e.to)
				first := e
				if i+1 < len(stack) {
					first = stack[i+1]
				}
				errs = append(errs, g.recipes[e.to].Errorf(first.key, "dependency cycle: %s", strings.Join(path, " -> ")))
			case white:
				stack = append(stack, e)
				visit(e.to)
				stack = stack[:len(stack)-1]
			}
		}
		color[n] = black
	}
	for _, n := range nodes {
		if color[n] == white {
			stack = []edge{{to: n}}
			visit(n)
		}
	}
	return errs
}

// topo fills order with Kahn's algorithm, taking the smallest name among
// the ready recipes each time, so the order is the same on every run.
func (g *Graph) topo(nodes []string) {
	pending := map[string]int{}
	users := map[string][]string{}
	for _, n := range nodes {
		pending[n] = len(g.edges[n])
		for _, e := range g.edges[n] {
			users[e.to] = append(users[e.to], n)
		}
	}
	var ready []string
	for _, n := range nodes {
		if pending[n] == 0 {
			ready = append(ready, n)
		}
	}
	for len(ready) > 0 {
		sort.Strings(ready)
		n := ready[0]
		ready = ready[1:]
		g.rank[n] = len(g.order)
		g.order = append(g.order, n)
		for _, u := range users[n] {
			if pending[u]--; pending[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
