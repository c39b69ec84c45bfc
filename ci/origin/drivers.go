package origin

// What of the engine is compiled in besides its core.
//
// Storage drivers always compiled in: filesystem (the default, under the
// data directory) and inmemory (tests, throwaway registries). The cloud
// drivers (s3, gcs, azure) are in drivers_cloud.go, left out by -tags
// undistro_nocloud.
//
// Access controllers a configuration file's auth section may name besides
// undistro's own: the engine's htpasswd and token (an external
// authorisation server) ones.
import (
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

var storageDrivers = []string{"filesystem", "inmemory"}

// StorageDrivers names the storage drivers a --config may choose in this
// build.
func StorageDrivers() []string { return append([]string(nil), storageDrivers...) }
