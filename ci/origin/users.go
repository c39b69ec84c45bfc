package origin

import (
	"context"
	"fmt"

	"github.com/un-distro/undistro/ci/origin/internal/htpasswd"
)

// ErrNoUser is returned by RemoveUser for a name the user file lacks.
var ErrNoUser = htpasswd.ErrNoUser

// AddUser sets the password of user name in DATA/htpasswd (bcrypt, file
// mode 0600, written atomically), adding the user if new, and reports
// whether it was new. A running server sees the change at its next request.
func AddUser(ctx context.Context, data, name string, password []byte) (added bool, err error) {
	if err := htpasswd.ValidName(name); err != nil {
		return false, err
	}
	hash, err := htpasswd.Hash(password)
	if err != nil {
		return false, fmt.Errorf("user %s: %w", name, err)
	}
	err = htpasswd.Update(HtpasswdPath(data), func(u htpasswd.Users) error {
		_, exists := u[name]
		added = !exists
		u[name] = hash
		return nil
	})
	return added, err
}

// RemoveUser deletes user name from DATA/htpasswd. Removing the last user
// of a loopback origin opens it again; on the network a server started with
// users keeps refusing writes.
func RemoveUser(ctx context.Context, data, name string) error {
	return htpasswd.Update(HtpasswdPath(data), func(u htpasswd.Users) error {
		if _, ok := u[name]; !ok {
			return fmt.Errorf("%w %q in %s (list them with `undistro serve user list`)", ErrNoUser, name, HtpasswdPath(data))
		}
		delete(u, name)
		return nil
	})
}

// Users lists the user names in DATA/htpasswd, sorted.
func Users(ctx context.Context, data string) ([]string, error) {
	u, err := htpasswd.Read(HtpasswdPath(data))
	if err != nil {
		return nil, err
	}
	return u.Names(), nil
}
