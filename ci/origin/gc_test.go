package origin

import (
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestGarbageCollect: the engine's collector refuses to run beside a
// server, a dry run deletes nothing, and --delete-untagged removes an
// overwritten tag's manifest and its blobs while the tagged image stays
// whole.
func TestGarbageCollect(t *testing.T) {
	data := t.TempDir()
	srv, stop := start(t, data)
	old, cur := randomImage(t), randomImage(t)
	if err := remote.Write(ref(t, host(srv)+"/undistro/web:latest"), old); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host(srv)+"/undistro/web:latest"), cur); err != nil {
		t.Fatal(err)
	}
	if _, err := GarbageCollect(logCtx(t.Context()), data, GCOptions{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("GC beside a running server: %v, want ErrBusy", err)
	}
	stop()

	rep, err := GarbageCollect(logCtx(t.Context()), data, GCOptions{DryRun: true, DeleteUntagged: true})
	if err != nil {
		t.Fatal(err)
	}
	// Each random image is 2 layers + a config + the manifest.
	if rep.BlobsBefore != 8 || rep.BlobsAfter != 8 {
		t.Fatalf("dry run: %+v, want 8 blobs before and after", rep)
	}
	rep, err = GarbageCollect(logCtx(t.Context()), data, GCOptions{DeleteUntagged: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.BlobsBefore != 8 || rep.BlobsAfter != 4 || rep.BytesAfter >= rep.BytesBefore {
		t.Fatalf("collection: %+v, want 8 blobs -> 4", rep)
	}

	srv, _ = start(t, data)
	got, err := remote.Image(ref(t, host(srv)+"/undistro/web:latest"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("tagged image after GC: %v", err)
	}
	_, err = remote.Image(ref(t, host(srv)+"/undistro/web@"+digestOf(t, old).String()))
	if statusOf(err) != http.StatusNotFound {
		t.Fatalf("untagged manifest after GC: %v, want 404", err)
	}
}
