package origin

// The storage drivers compiled in: the filesystem (the default, under the
// data directory) and inmemory (tests, throwaway registries). Cloud drivers
// (s3, gcs, azure) would each add tens of megabytes of SDK to the binary;
// a deployment that needs one runs a stock distribution registry with the
// same configuration, or builds undistro with the driver imported here.
import (
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)
