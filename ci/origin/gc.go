package origin

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/opencontainers/go-digest"
)

// GCOptions are the engine's garbage collection switches.
type GCOptions struct {
	// DryRun marks and lists what would be deleted (on standard output, as
	// the engine prints it) and deletes nothing.
	DryRun bool
	// DeleteUntagged also deletes manifests no tag points to (and then
	// the blobs only they referenced).
	DeleteUntagged bool
	// Verbose prints the engine's mark and sweep listing on standard
	// output (always on with DryRun).
	Verbose bool
}

// GCReport counts the blobs in storage before and after a collection.
type GCReport struct {
	BlobsBefore, BlobsAfter int
	BytesBefore, BytesAfter int64
}

// GarbageCollect runs the engine's mark-and-sweep (storage.MarkAndSweep)
// on the origin's storage: the data directory's, or the configuration
// file's (WithConfigFile). It refuses while a server holds the data
// directory: collecting under a live writer can delete blobs of a push in
// progress.
func GarbageCollect(ctx context.Context, data string, gc GCOptions, opts ...Option) (*GCReport, error) {
	_, cfg, lock, err := openData(data, opts)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	configureLogging(ctx, cfg)
	drv, err := factory.Create(ctx, cfg.Storage.Type(), cfg.Storage.Parameters())
	if err != nil {
		return nil, fmt.Errorf("opening %s storage: %w", cfg.Storage.Type(), err)
	}
	reg, err := storage.NewRegistry(ctx, drv)
	if err != nil {
		return nil, fmt.Errorf("opening registry storage: %w", err)
	}
	var rep GCReport
	count := func(n *int, size *int64) error {
		*n, *size = 0, 0
		err := reg.Blobs().Enumerate(ctx, func(d digest.Digest) error {
			desc, err := reg.BlobStatter().Stat(ctx, d)
			if err != nil {
				return fmt.Errorf("stat blob %s: %w", d, err)
			}
			*n++
			*size += desc.Size
			return nil
		})
		if errors.As(err, new(driver.PathNotFoundError)) {
			return nil // nothing pushed yet
		}
		return err
	}
	if err := count(&rep.BlobsBefore, &rep.BytesBefore); err != nil {
		return nil, fmt.Errorf("counting blobs: %w", err)
	}
	if _, err := drv.Stat(ctx, "/docker/registry/v2/repositories"); errors.As(err, new(driver.PathNotFoundError)) {
		// No repository was ever pushed (the engine's mark fails on that).
		rep.BlobsAfter, rep.BytesAfter = rep.BlobsBefore, rep.BytesBefore
		return &rep, nil
	}
	err = storage.MarkAndSweep(ctx, drv, reg, storage.GCOpts{
		DryRun:         gc.DryRun,
		RemoveUntagged: gc.DeleteUntagged,
		Quiet:          !gc.Verbose && !gc.DryRun,
	})
	if err != nil {
		return nil, fmt.Errorf("collecting garbage: %w", err)
	}
	if err := count(&rep.BlobsAfter, &rep.BytesAfter); err != nil {
		return nil, fmt.Errorf("counting blobs: %w", err)
	}
	return &rep, nil
}
