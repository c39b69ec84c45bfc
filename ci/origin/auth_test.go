package origin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestAuth: once a user exists, push and delete need its credentials
// (401 without), pulls are anonymous unless WithAnonymousPull(false).
func TestAuth(t *testing.T) {
	for _, tc := range []struct {
		name     string
		anonPull bool
		op       string // push, pull, delete
		creds    remote.Option
		wantCode int // 0: success
	}{
		{"push without credentials", true, "push", nil, http.StatusUnauthorized},
		{"push with a wrong password", true, "push", basic("ci", "wrong"), http.StatusUnauthorized},
		{"push by an unknown user", true, "push", basic("nobody", "secret-ci"), http.StatusUnauthorized},
		{"push with credentials", true, "push", basic("ci", "secret-ci"), 0},
		{"anonymous pull allowed", true, "pull", nil, 0},
		{"anonymous pull refused", false, "pull", nil, http.StatusUnauthorized},
		{"pull with credentials when anonymous pull is off", false, "pull", basic("ci", "secret-ci"), 0},
		{"delete without credentials", true, "delete", nil, http.StatusUnauthorized},
		{"delete with credentials", true, "delete", basic("ci", "secret-ci"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			mustAddUser(t, data, "ci", "secret-ci")
			srv, _ := start(t, data, WithAnonymousPull(tc.anonPull))
			if srv.Open() {
				t.Fatal("server with a user reports open")
			}
			img := randomImage(t)
			r := ref(t, host(srv)+"/undistro/web:latest")
			if tc.op != "push" {
				if err := remote.Write(r, img, basic("ci", "secret-ci")); err != nil {
					t.Fatal(err)
				}
			}
			var opts []remote.Option
			if tc.creds != nil {
				opts = append(opts, tc.creds)
			}
			var err error
			switch tc.op {
			case "push":
				err = remote.Write(r, img, opts...)
			case "pull":
				_, err = remote.Image(r, opts...)
			case "delete":
				err = remote.Delete(ref(t, host(srv)+"/undistro/web@"+digestOf(t, img).String()), opts...)
			}
			if got := statusOf(err); got != tc.wantCode || (tc.wantCode == 0 && err != nil) {
				t.Fatalf("%s: status %d (err %v), want %d", tc.op, got, err, tc.wantCode)
			}
		})
	}
}

// TestOpenOnLoopbackUntilAUserExists: a loopback origin without users
// takes anonymous pushes; a user added while it runs closes it at the next
// request, and removing the last user opens it again.
func TestOpenOnLoopbackUntilAUserExists(t *testing.T) {
	data := t.TempDir()
	srv, _ := start(t, data)
	if !srv.Open() {
		t.Fatal("loopback origin without users should report open")
	}
	r := ref(t, host(srv)+"/undistro/base:latest")
	if err := remote.Write(r, randomImage(t)); err != nil {
		t.Fatalf("anonymous push to an open origin: %v", err)
	}
	mustAddUser(t, data, "ci", "pw")
	if err := remote.Write(r, randomImage(t)); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("push after a user was added: %v, want 401", err)
	}
	if err := remote.Write(r, randomImage(t), basic("ci", "pw")); err != nil {
		t.Fatalf("push with the new user's credentials: %v", err)
	}
	if err := RemoveUser(logCtx(t.Context()), data, "ci"); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, randomImage(t)); err != nil {
		t.Fatalf("anonymous push once the last user is gone: %v", err)
	}
}

// TestUnreadableUsersRefuse: a corrupt user file closes the registry
// instead of opening it.
func TestUnreadableUsersRefuse(t *testing.T) {
	data := t.TempDir()
	mustAddUser(t, data, "ci", "pw")
	srv, _ := start(t, data)
	if err := os.WriteFile(HtpasswdPath(data), []byte("ci:not-a-bcrypt-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := ref(t, host(srv)+"/undistro/base:latest")
	err := remote.Write(r, randomImage(t), basic("ci", "pw"))
	if err == nil {
		t.Fatal("push accepted with a corrupt user file")
	}
	if _, err := Users(logCtx(t.Context()), data); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("Users on a corrupt file: %v, want an error naming line 1", err)
	}
}

// TestNonLoopbackNeedsUsersAndTLS: listening beyond loopback is refused
// without users or without TLS unless WithInsecure.
func TestNonLoopbackNeedsUsersAndTLS(t *testing.T) {
	cert, key := selfSigned(t)
	for _, tc := range []struct {
		name    string
		user    bool
		opts    []Option
		wantErr []string // substrings; none: starts
	}{
		{"no users, no TLS", false, nil, []string{"no users", "undistro serve user add", "no TLS", "--tls-cert", "--insecure"}},
		{"users, no TLS", true, nil, []string{"no TLS"}},
		{"TLS, no users", false, []Option{WithTLS(cert, key)}, []string{"no users"}},
		{"users and TLS", true, []Option{WithTLS(cert, key)}, nil},
		{"insecure", false, []Option{WithInsecure()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			if tc.user {
				mustAddUser(t, data, "ci", "pw")
			}
			srv, err := New(logCtx(t.Context()), data, append([]Option{WithAddr("0.0.0.0:0")}, tc.opts...)...)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				srv.Close()
				return
			}
			if !errors.Is(err, ErrExposed) {
				t.Fatalf("got %v, want ErrExposed", err)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "no users") != !tc.user {
				t.Errorf("error %q: mentions users wrongly", err)
			}
		})
	}
}

// TestNetworkOriginStaysClosed: an origin listening beyond loopback whose
// last user is removed refuses writes instead of opening up.
func TestNetworkOriginStaysClosed(t *testing.T) {
	cert, key := selfSigned(t)
	data := t.TempDir()
	mustAddUser(t, data, "ci", "pw")
	srv, _ := start(t, data, WithAddr("0.0.0.0:0"), WithTLS(cert, key))
	if err := RemoveUser(logCtx(t.Context()), data, "ci"); err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	ht := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer ht.CloseIdleConnections() // else the server drains an idle HTTP/2 connection
	tr := remote.WithTransport(ht)
	port := srv.Addr().(*net.TCPAddr).Port
	r := ref(t, fmt.Sprintf("127.0.0.1:%d/undistro/web:latest", port))
	if err := remote.Write(r, randomImage(t), tr); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("anonymous push with no users left on a network origin: %v, want 401", err)
	}
}
