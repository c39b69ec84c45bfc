// Package htpasswd reads, writes and checks the origin registry's user file:
// Apache htpasswd format with bcrypt hashes only ("NAME:$2y$..." per line),
// the format distribution's own htpasswd access controller reads, so the
// same file works with a stock registry.
package htpasswd

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/singleflight"
)

// MaxPassword is the longest password bcrypt can hash (bytes).
const MaxPassword = 72

// ErrBadCredentials is returned by Check for an unknown user or a wrong password.
var ErrBadCredentials = errors.New("bad user name or password")

// ErrNoUser is returned by Remove for a user the file does not hold.
var ErrNoUser = errors.New("no such user")

// Users maps user names to bcrypt hashes.
type Users map[string][]byte

// Names returns the user names, sorted.
func (u Users) Names() []string {
	names := make([]string, 0, len(u))
	for n := range u {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ValidName reports why name cannot be a user name, or nil.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("user name is empty")
	case len(name) > 255:
		return fmt.Errorf("user name %.20q... is longer than 255 bytes", name)
	case strings.ContainsAny(name, ":#"):
		return fmt.Errorf("user name %q contains ':' or '#'", name)
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("user name %q contains a space or control character", name)
		}
	}
	return nil
}

// Parse reads an htpasswd file. Blank lines and lines starting with '#' are
// ignored; every other line must be NAME:BCRYPT-HASH. Errors name the line.
func Parse(r io.Reader) (Users, error) {
	users := Users{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: want NAME:HASH", n)
		}
		if err := ValidName(name); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d: user %q: not a bcrypt hash (%v): only bcrypt is accepted, set the password again with `undistro serve user add %s`", n, name, err, name)
		}
		if _, dup := users[name]; dup {
			return nil, fmt.Errorf("line %d: user %q appears twice", n, name)
		}
		users[name] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return users, nil
}

// Read parses the file at path; a missing file holds no users.
func Read(path string) (Users, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Users{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	u, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return u, nil
}

// Marshal renders users in htpasswd format, sorted by name.
func (u Users) Marshal() []byte {
	var b bytes.Buffer
	for _, n := range u.Names() {
		fmt.Fprintf(&b, "%s:%s\n", n, u[n])
	}
	return b.Bytes()
}

// Hash returns the bcrypt hash of password at bcrypt's default cost.
func Hash(password []byte) ([]byte, error) {
	if len(password) == 0 {
		return nil, errors.New("password is empty")
	}
	if len(password) > MaxPassword {
		return nil, fmt.Errorf("password is %d bytes; bcrypt takes at most %d", len(password), MaxPassword)
	}
	return bcrypt.GenerateFromPassword(password, bcrypt.DefaultCost)
}

// Store is a user file that is re-read when it changes on disk, so users
// added or removed while a server runs take effect at the next request.
// It is safe for concurrent use.
type Store struct {
	path string

	mu      sync.Mutex
	stamp   fileStamp
	users   Users
	err     error
	key     []byte            // HMAC key for the verified-password cache
	checked map[string][]byte // user -> HMAC(key, password) of the last good password

	inflight singleflight.Group
}

type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// NewStore returns a Store reading path.
func NewStore(path string) *Store {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Store{path: path, key: key}
}

// Users returns the current users (nil map and an error when the file is
// unreadable or malformed: callers must then refuse, not open up).
func (s *Store) Users() (Users, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadLocked()
}

func (s *Store) loadLocked() (Users, error) {
	st, err := stat(s.path)
	if err != nil {
		return nil, err
	}
	if s.users != nil && st == s.stamp {
		return s.users, s.err
	}
	u, err := Read(s.path)
	s.stamp, s.users, s.err, s.checked = st, u, err, map[string][]byte{}
	if err != nil {
		s.users = Users{}
	}
	return s.users, err
}

// Check verifies name and password. bcrypt is slow on purpose, so a
// password that verified once is remembered (as an HMAC under a per-process
// random key, never the password) until the file changes; an unknown user
// costs the same bcrypt work as a known one.
func (s *Store) Check(name, password string) error {
	s.mu.Lock()
	users, err := s.loadLocked()
	if err != nil {
		s.mu.Unlock()
		return err
	}
	hash, known := users[name]
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(password))
	sum := mac.Sum(nil)
	if known && hmac.Equal(s.checked[name], sum) {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	if !known {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return ErrBadCredentials
	}
	// A client sends several requests at once with the same credentials:
	// verify them once.
	_, err, _ = s.inflight.Do(name+"\x00"+string(sum), func() (any, error) {
		if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil {
			return nil, ErrBadCredentials
		}
		s.mu.Lock()
		if h, ok := s.users[name]; ok && bytes.Equal(h, hash) {
			s.checked[name] = sum
		}
		s.mu.Unlock()
		return nil, nil
	})
	return err
}

// dummyHash is compared against for unknown users so that a wrong name
// takes as long as a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("undistro-no-such-user"), bcrypt.DefaultCost)
	return h
})
