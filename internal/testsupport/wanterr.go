package testsupport

import (
	"strings"
	"testing"
)

// WantErr checks err against want, the text the error must contain, or
// "" for no error, and fails the test on a mismatch. It reports whether
// an error was wanted (and came): the case has nothing more to check.
//
//	if testsupport.WantErr(t, err, tc.wantErr) {
//		return
//	}
func WantErr(t testing.TB, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want one containing %q", err, want)
	}
	return true
}
