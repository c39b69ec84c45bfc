package origin

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/crypto/bcrypt"

	"github.com/un-distro/undistro/ci/origin/internal/htpasswd"
	"github.com/un-distro/undistro/internal/testsupport"
)

// start runs an origin on 127.0.0.1:0 over data until the test ends (or
// stop is called) and returns it and its stop function.
func start(t *testing.T, data string, opts ...Option) (*Server, func()) {
	t.Helper()
	srv, err := New(logCtx(t.Context()), data, append([]Option{WithAddr("127.0.0.1:0")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return srv, serve(t, srv)
}

// serve runs srv until the test ends or the returned stop is called.
func serve(t *testing.T, srv *Server) (stop func()) {
	t.Helper()
	return testsupport.Background(t, "serve", srv.Serve)
}

// host is the registry's HOST:PORT.
func host(s *Server) string { return strings.TrimPrefix(s.URL(), "http://") }

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func basic(user, pass string) remote.Option {
	return remote.WithAuth(&authn.Basic{Username: user, Password: pass})
}

// statusOf is the HTTP status of a go-containerregistry error, or 0.
func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

// mustAddUser adds a user as AddUser does, but hashed at bcrypt's minimum
// cost: the default cost is slow on purpose, and slower under -race.
// TestUsers covers AddUser itself.
func mustAddUser(t *testing.T, data, user, pass string) {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := htpasswd.Update(HtpasswdPath(data), func(u htpasswd.Users) error { u[user] = h; return nil }); err != nil {
		t.Fatal(err)
	}
}

// do sends one raw request and returns the response (body read and closed).
func do(t *testing.T, method, url string, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
