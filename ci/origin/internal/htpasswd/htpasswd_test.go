package htpasswd

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestParse(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in, want string // want: error substring, or "" for success
		users          int
	}{
		{"empty", "", "", 0},
		{"comments and blanks", "# users\n\nci:" + string(hash) + "\n", "", 1},
		{"no colon", "ci\n", "line 1: want NAME:HASH", 0},
		{"not bcrypt", "ci:{SHA}abc\n", "line 1: user \"ci\": not a bcrypt hash", 0},
		{"duplicate", "ci:" + string(hash) + "\nci:" + string(hash) + "\n", "line 2: user \"ci\" appears twice", 0},
		{"bad name", "a b:" + string(hash) + "\n", "line 1", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Parse(strings.NewReader(tc.in))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil || len(u) != tc.users {
				t.Fatalf("got %v %v, want %d users", u, err, tc.users)
			}
		})
	}
}

func TestStoreCheck(t *testing.T) {
	p := filepath.Join(t.TempDir(), "htpasswd")
	s := NewStore(p)
	if u, err := s.Users(); err != nil || len(u) != 0 {
		t.Fatalf("missing file: %v %v, want no users", u, err)
	}
	set := func(name, pw string) {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost) // Hash's cost is slow under -race
		if err != nil {
			t.Fatal(err)
		}
		if err := Update(p, func(u Users) error { u[name] = h; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	set("ci", "one")
	for _, tc := range []struct {
		user, pw string
		ok       bool
	}{
		{"ci", "one", true},
		{"ci", "one", true}, // cached
		{"ci", "two", false},
		{"nobody", "one", false},
	} {
		err := s.Check(tc.user, tc.pw)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadCredentials)) {
			t.Fatalf("Check(%s, %s) = %v, want ok=%v", tc.user, tc.pw, err, tc.ok)
		}
	}
	set("ci", "two") // a changed file drops what was verified before
	if err := s.Check("ci", "one"); err == nil {
		t.Fatal("old password still accepted after the file changed")
	}
	if err := s.Check("ci", "two"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if err := Update(p, func(Users) error { return errors.New("no") }); err == nil {
		t.Fatal("a failing change reported success")
	}
	if err := s.Check("ci", "two"); err != nil {
		t.Fatalf("a failed update changed the file: %v", err)
	}
}

// FuzzParse: the user file is read by a network-facing server; no input
// may panic it, and what parses must marshal and parse back the same.
func FuzzParse(f *testing.F) {
	f.Add("ci:$2a$10$abcdefghijklmnopqrstuuJ4uN3qX5ViZcNO.eW4mFS2P5lTk6Q2W\n")
	f.Add("# comment\n\nx:y\n")
	f.Add("a:b:c\n")
	f.Fuzz(func(t *testing.T, in string) {
		u, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		again, err := Parse(strings.NewReader(string(u.Marshal())))
		if err != nil || len(again) != len(u) {
			t.Fatalf("round trip of %q: %v %v", in, again, err)
		}
	})
}
