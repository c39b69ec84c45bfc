package origin

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestUsers(t *testing.T) {
	data := t.TempDir()
	ctx := logCtx(t.Context())
	for _, u := range []string{"zed", "ci"} {
		added, err := AddUser(ctx, data, u, []byte("pw-"+u))
		if err != nil || !added {
			t.Fatalf("AddUser %s: %v %v", u, added, err)
		}
	}
	if added, err := AddUser(ctx, data, "ci", []byte("new")); err != nil || added {
		t.Fatalf("AddUser of an existing user: added=%v %v, want a password change", added, err)
	}
	fi, err := os.Stat(HtpasswdPath(data))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("htpasswd mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(HtpasswdPath(data))
	if strings.Contains(string(b), "pw-") || !strings.Contains(string(b), "ci:$2") {
		t.Fatalf("htpasswd holds no bcrypt hash or a clear password:\n%s", b)
	}
	names, err := Users(ctx, data)
	if err != nil || !slices.Equal(names, []string{"ci", "zed"}) {
		t.Fatalf("Users = %v %v", names, err)
	}
	if err := RemoveUser(ctx, data, "zed"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveUser(ctx, data, "zed"); !errors.Is(err, ErrNoUser) {
		t.Fatalf("removing a missing user: %v, want ErrNoUser", err)
	}
	if names, _ := Users(ctx, data); !slices.Equal(names, []string{"ci"}) {
		t.Fatalf("after remove: %v", names)
	}
}

func TestAddUserRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, user, pass, want string
	}{
		{"empty name", "", "pw", "user name is empty"},
		{"colon", "a:b", "pw", "contains ':'"},
		{"space", "a b", "pw", "space or control"},
		{"empty password", "ci", "", "password is empty"},
		{"long password", "ci", strings.Repeat("x", 73), "at most 72"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			_, err := AddUser(logCtx(t.Context()), data, tc.user, []byte(tc.pass))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(HtpasswdPath(data)); !os.IsNotExist(err) {
				t.Fatalf("a refused user wrote the file: %v", err)
			}
		})
	}
}
