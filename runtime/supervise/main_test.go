package supervise

import (
	"os"
	"testing"
)

// TestMain lets this test binary serve as the sandbox launcher its
// chrooting supervisors re-execute.
func TestMain(m *testing.M) {
	MaybeLaunch()
	os.Exit(m.Run())
}
