package origin

// The storage drivers always compiled in: the filesystem (the default,
// under the data directory) and inmemory (tests, throwaway registries). The
// cloud drivers (s3, gcs, azure) are in drivers_cloud.go, left out by
// -tags undistro_nocloud.
import (
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

var storageDrivers = []string{"filesystem", "inmemory"}

// StorageDrivers names the storage drivers a --config may choose in this
// build.
func StorageDrivers() []string { return append([]string(nil), storageDrivers...) }
