package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// sample runs `go test -json -short` on testdata/sample (a module of its
// own) and returns its output; failing makes TestFail fail.
func sample(t *testing.T, failing bool) []byte {
	t.Helper()
	cmd := exec.Command("go", "test", "-json", "-short", "-count=1", ".")
	cmd.Dir = "testdata/sample"
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if failing {
		cmd.Env = append(cmd.Env, "SAMPLE_FAIL=1")
	}
	out, err := cmd.Output()
	if err != nil && !failing {
		t.Fatalf("go test -json: %v\n%s", err, out)
	}
	return out
}

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		name          string
		failing       bool
		want, notWant []string
		codeLocal     int
		codeCI        int
	}{
		{
			name: "skips",
			want: []string{"ok  \tsample", "tests: 2 passed, 0 failed, 2 skipped (1 under -short)",
				"SKIP sample TestMissingTool: sample_test.go:16: bwrap not installed: apt-get install bubblewrap"},
			notWant:   []string{"quiet when passing", "SKIP sample TestLong", "=== RUN"},
			codeLocal: 0, codeCI: 1,
		},
		{
			name:    "failure",
			failing: true,
			want:    []string{"the failure's message", "--- FAIL: TestFail", "FAIL\tsample", "1 passed, 1 failed"},
			notWant: []string{"quiet when passing"}, codeLocal: 1, codeCI: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			sum, err := Report(bytes.NewReader(sample(t, tc.failing)), &w)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.want {
				if !strings.Contains(w.String(), s) {
					t.Errorf("report lacks %q:\n%s", s, w.String())
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(w.String(), s) {
					t.Errorf("report has %q:\n%s", s, w.String())
				}
			}
			if got := sum.ExitCode(false); got != tc.codeLocal {
				t.Errorf("exit code outside CI = %d, want %d", got, tc.codeLocal)
			}
			if got := sum.ExitCode(true); got != tc.codeCI {
				t.Errorf("exit code in CI = %d, want %d", got, tc.codeCI)
			}
		})
	}
}

// TestReportNotJSON: a build failure's plain lines are copied through.
func TestReportNotJSON(t *testing.T) {
	var w bytes.Buffer
	if _, err := Report(strings.NewReader("# sample\nsample.go:3:1: syntax error\n"), &w); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.String(), "# sample\nsample.go:3:1: syntax error\n") {
		t.Errorf("report = %q", w.String())
	}
}

// TestReportBuildFailure: the compiler's errors (go test -json's
// build-output events) are printed, and a package that failed with no
// failing test still fails the run.
func TestReportBuildFailure(t *testing.T) {
	in := `{"ImportPath":"bf [bf.test]","Action":"build-output","Output":"# bf [bf.test]\n"}
{"ImportPath":"bf [bf.test]","Action":"build-output","Output":"./x_test.go:5:28: undefined: undefinedThing\n"}
{"ImportPath":"bf [bf.test]","Action":"build-fail"}
{"Action":"start","Package":"bf"}
{"Action":"output","Package":"bf","Output":"FAIL\tbf [build failed]\n"}
{"Action":"fail","Package":"bf","Elapsed":0,"FailedBuild":"bf [bf.test]"}
`
	var w bytes.Buffer
	sum, err := Report(strings.NewReader(in), &w)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"./x_test.go:5:28: undefined: undefinedThing\n", "FAIL\tbf [build failed]\n"} {
		if !strings.Contains(w.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, w.String())
		}
	}
	if got := sum.ExitCode(false); got != 1 {
		t.Errorf("exit code = %d, want 1 for a package that failed to build", got)
	}
}
