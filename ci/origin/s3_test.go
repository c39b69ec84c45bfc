//go:build !undistro_nocloud

package origin

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestS3Storage: a --config naming s3 storage (here an in-process S3
// endpoint) is served by the engine's s3 driver, as in a stock distribution
// deployment: a pushed image comes back by digest, and survives a restart
// on the same bucket.
func TestS3Storage(t *testing.T) {
	backend := s3mem.New()
	const bucket = "undistro-origin"
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	s3 := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(s3.Close)
	cfg := writeConfig(t, fmt.Sprintf(`version: 0.1
storage:
  s3:
    region: us-east-1
    regionendpoint: %s
    bucket: %s
    accesskey: test
    secretkey: test
    secure: false
    forcepathstyle: true
    rootdirectory: /registry
http:
  addr: 127.0.0.1:0
`, s3.URL, bucket))
	img := randomImage(t)
	for round := range 2 {
		srv, err := New(logCtx(t.Context()), t.TempDir(), WithConfigFile(cfg))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		stop := serve(t, srv)
		if round == 0 {
			if err := remote.Write(ref(t, host(srv)+"/undistro/web:latest"), img); err != nil {
				t.Fatalf("push to s3 storage: %v", err)
			}
		}
		got, err := remote.Image(ref(t, host(srv)+"/undistro/web@"+digestOf(t, img).String()))
		if err != nil {
			t.Fatalf("round %d: pull from s3 storage: %v", round, err)
		}
		if err := validate.Image(got); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		stop()
	}
	objs, err := backend.ListBucket(bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil || len(objs.Contents) == 0 {
		t.Fatalf("the bucket holds nothing (%v): the registry did not store in s3", err)
	}
}
