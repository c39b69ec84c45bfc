// Command testreport reads `go test -json` on stdin and prints what a
// plain `go test` would (each package's result line, and the output of
// failing tests), then the skipped tests. When the environment variable
// CI is set, a skip for any reason but -short fails the run: in CI every
// tool and privilege the tests need is installed (`make deps`, root), so
// a skip there hides a test that did not run. `make test` pipes into it.
//
//	go test -json ./... | go run ./ci/internal/testreport
package main

import (
	"fmt"
	"os"

	"github.com/un-distro/undistro/internal/testsupport"
)

func main() {
	sum, err := Report(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if code := sum.ExitCode(testsupport.InCI()); code != 0 {
		os.Exit(code)
	}
}
