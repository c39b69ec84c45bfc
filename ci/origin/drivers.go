package origin

// What of the engine is compiled in besides its core.
//
// Storage drivers: filesystem (the default, under the data directory) and
// inmemory (tests, throwaway registries). Cloud drivers (s3, gcs, azure)
// would each add tens of megabytes of SDK to the binary; a deployment that
// needs one runs a stock distribution registry with the same configuration,
// or builds undistro with the driver imported here.
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
