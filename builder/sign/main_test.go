package sign

import (
	"testing"

	"github.com/un-distro/undistro/internal/testsupport"
)

// TestMain keeps sigstore's caches (TUF_ROOT) and any docker or cosign
// config the library would read inside a temporary directory, so tests
// neither read nor write the user's home.
func TestMain(m *testing.M) { testsupport.RunIsolated(m) }
