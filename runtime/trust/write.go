package trust

import (
	"os"

	"github.com/un-distro/undistro/internal/atomicfile"
)

// writeFile replaces path with b atomically (temp file, fsync, rename,
// directory fsync).
func writeFile(path string, b []byte, mode os.FileMode) error {
	return atomicfile.WriteFile(path, b, mode, atomicfile.Step("trust.key"))
}
