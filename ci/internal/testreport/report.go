package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// Skip is a skipped test and the reason it printed.
type Skip struct {
	Package, Test, Reason string
	Short                 bool // skipped because of -short
}

// Summary is what a run did.
type Summary struct {
	Passed, Failed int
	// PackagesFailed counts failed packages, including those that failed
	// with no failing test (a build failure, a TestMain exit, a timeout).
	PackagesFailed int
	Skipped        []Skip
}

// shortMark is what testsupport.SkipShort prints.
const shortMark = "skipped under -short"

// Report copies the run read from r to w as a plain `go test` prints it,
// followed by the skipped tests, and returns the summary. Lines that are
// not JSON (a build failure, for one) are copied as they are.
func Report(r io.Reader, w io.Writer) (*Summary, error) {
	type key struct{ pkg, test string }
	out := map[key][]string{}
	sum := &Summary{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		k := key{e.Package, e.Test}
		switch {
		case e.Action == "build-output": // the compiler's errors
			fmt.Fprint(w, e.Output)
		case e.Test == "" && e.Action == "fail":
			sum.PackagesFailed++
		case e.Test == "" && e.Action == "output":
			if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "PASS\n") {
				fmt.Fprint(w, e.Output)
			}
		case e.Test == "":
		case e.Action == "output":
			out[k] = append(out[k], e.Output)
		case e.Action == "pass":
			sum.Passed++
			delete(out, k)
		case e.Action == "fail":
			sum.Failed++
			fmt.Fprint(w, strings.Join(out[k], ""))
			delete(out, k)
		case e.Action == "skip":
			reason := skipReason(out[k])
			sum.Skipped = append(sum.Skipped, Skip{Package: e.Package, Test: e.Test, Reason: reason, Short: strings.Contains(reason, shortMark)})
			delete(out, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading go test -json: %w", err)
	}
	sort.Slice(sum.Skipped, func(i, j int) bool {
		a, b := sum.Skipped[i], sum.Skipped[j]
		return a.Package < b.Package || a.Package == b.Package && a.Test < b.Test
	})
	short := 0
	for _, s := range sum.Skipped {
		if s.Short {
			short++
		}
	}
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped (%d under -short)\n", sum.Passed, sum.Failed, len(sum.Skipped), short)
	for _, s := range sum.Skipped {
		if !s.Short {
			fmt.Fprintf(w, "SKIP %s %s: %s\n", s.Package, s.Test, s.Reason)
		}
	}
	return sum, nil
}

// skipReason is the message a skipped test printed: its last output line
// that is not go test's own "--- SKIP" or "=== RUN" line.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		return l
	}
	return "(no reason given)"
}

// ExitCode is 1 when tests or packages failed or, in CI, when a test was skipped for
// any reason but -short; else 0.
func (s *Summary) ExitCode(inCI bool) int {
	if s.Failed > 0 || s.PackagesFailed > 0 {
		return 1
	}
	if inCI {
		for _, k := range s.Skipped {
			if !k.Short {
				return 1
			}
		}
	}
	return 0
}
