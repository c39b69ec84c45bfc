package graph

import (
	"fmt"
	"slices"
	"strings"
)

// Order returns every recipe of the graph in build order: each after all
// its dependencies, ties broken by name.
func (g *Graph) Order() []string { return slices.Clone(g.order) }

// Has reports whether name is in the graph.
func (g *Graph) Has(name string) bool { _, ok := g.rank[name]; return ok }

// RunClosure returns roots and, transitively, their run dependencies, in
// build order: the packages that go into an image of roots. Build
// dependencies never do. Names outside the graph are left out.
func (g *Graph) RunClosure(roots []string) []string {
	return g.closure(roots, func(e edge) bool { return e.run })
}

// BuildDeps returns what must be present to build name: its build
// dependencies (recipes, not host tools) and, transitively, their run
// dependencies, in build order.
func (g *Graph) BuildDeps(name string) []string {
	var direct []string
	for _, e := range g.edges[name] {
		if e.build {
			direct = append(direct, e.to)
		}
	}
	return g.RunClosure(direct)
}

// Deps returns the recipes name depends on directly, build or run, sorted.
// Their build keys enter name's cache key.
func (g *Graph) Deps(name string) []string {
	out := make([]string, 0, len(g.edges[name]))
	for _, e := range g.edges[name] {
		out = append(out, e.to)
	}
	return out
}

// HostTools returns the host tools name builds with ("gcc" for
// "host:gcc"), sorted.
func (g *Graph) HostTools(name string) []string { return slices.Clone(g.host[name]) }

// ReverseDeps returns every recipe in the graph that depends on name,
// directly or not, through build or run dependencies, in build order:
// what must be rebuilt when name changes.
func (g *Graph) ReverseDeps(name string) []string {
	users := map[string][]string{}
	for from, es := range g.edges {
		for _, e := range es {
			users[e.to] = append(users[e.to], from)
		}
	}
	seen := map[string]bool{}
	queue := []string{name}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, u := range users[n] {
			if !seen[u] {
				seen[u] = true
				queue = append(queue, u)
			}
		}
	}
	delete(seen, name)
	return g.inOrder(seen)
}

func (g *Graph) closure(roots []string, follow func(edge) bool) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if seen[n] || !g.Has(n) {
			return
		}
		seen[n] = true
		for _, e := range g.edges[n] {
			if follow(e) {
				visit(e.to)
			}
		}
	}
	for _, r := range roots {
		visit(r)
	}
	return g.inOrder(seen)
}

// inOrder returns the names in set in build order.
func (g *Graph) inOrder(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for n := range set {
		if g.Has(n) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return g.rank[a] - g.rank[b] })
	return out
}

// Tree draws name's dependencies as a tree, for `undistro recipe deps
// --tree`. Each line is a recipe with its version and whether it is a
// build or run dependency, or a host tool. A recipe drawn before is marked
// (*) and not expanded again.
func (g *Graph) Tree(name string) string {
	var b strings.Builder
	b.WriteString(g.label(name) + "\n")
	g.tree(&b, name, "", map[string]bool{name: true})
	return b.String()
}

func (g *Graph) label(name string) string {
	if r := g.recipes[name]; r != nil {
		return name + " " + r.Version
	}
	return name
}

func (g *Graph) tree(b *strings.Builder, name, indent string, drawn map[string]bool) {
	type line struct {
		text string
		to   string
	}
	var lines []line
	for _, t := range g.host[name] {
		lines = append(lines, line{text: HostPrefix + t})
	}
	for _, e := range g.edges[name] {
		kind := map[[2]bool]string{{true, false}: "build", {false, true}: "run", {true, true}: "build, run"}[[2]bool{e.build, e.run}]
		lines = append(lines, line{text: fmt.Sprintf("%s (%s)", g.label(e.to), kind), to: e.to})
	}
	for i, l := range lines {
		branch, next := "├── ", "│   "
		if i == len(lines)-1 {
			branch, next = "└── ", "    "
		}
		if l.to != "" && drawn[l.to] {
			l.text += " (*)"
		}
		b.WriteString(indent + branch + l.text + "\n")
		if l.to != "" && !drawn[l.to] {
			drawn[l.to] = true
			g.tree(b, l.to, indent+next, drawn)
		}
	}
}
