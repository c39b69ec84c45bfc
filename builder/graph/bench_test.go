package graph

import "testing"

// BenchmarkLintShipped measures linting the shipped recipes and roles: what
// every build and `undistro recipe lint` pays before anything else.
func BenchmarkLintShipped(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := Lint("../../recipes", "../../images"); err != nil {
			b.Fatal(err)
		}
	}
}
