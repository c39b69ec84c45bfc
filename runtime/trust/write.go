package trust

import "github.com/un-distro/undistro/internal/atomicfile"

// writeFile writes a key file atomically (temp, fsync, rename, fsync dir).
func writeFile(path string, b []byte) error {
	return atomicfile.WriteFile(path, b, 0o644, atomicfile.Step("trust.key"))
}
