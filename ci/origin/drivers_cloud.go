//go:build !undistro_nocloud

package origin

// The cloud storage drivers, so a --config naming s3, gcs or azure storage
// works as in a stock distribution deployment and the origin scales past
// one machine the same way. Their SDKs are most of the full binary's size
// (stripped: 64 MB with them, 35 MB without); build with -tags
// undistro_nocloud to leave them out. The node binary (-tags undistro_node)
// links no registry at all.
import (
	_ "github.com/distribution/distribution/v3/registry/storage/driver/azure"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/gcs"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
)

func init() { storageDrivers = append(storageDrivers, "azure", "gcs", "s3") }
