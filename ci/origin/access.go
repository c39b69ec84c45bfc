package origin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/distribution/distribution/v3/registry/auth"

	"github.com/un-distro/undistro/ci/origin/internal/htpasswd"
)

// accessControllerName is the name undistro's access controller is
// registered under in the engine's auth registry.
const accessControllerName = "undistro-htpasswd"

func init() {
	if err := auth.Register(accessControllerName, newAccessController); err != nil {
		panic(err)
	}
}

// accessController is htpasswd (bcrypt) Basic authentication for push and
// delete, with two undistro policies the engine's own htpasswd controller
// lacks: anonymous pull (GET/HEAD of content and the catalog without
// credentials), and "open" mode (no users in the file means no
// authentication) which New allows only on loopback or with --insecure.
type accessController struct {
	users         *htpasswd.Store
	realm         string
	anonymousPull bool
	open          bool
}

var _ auth.AccessController = (*accessController)(nil)

func newAccessController(o map[string]any) (auth.AccessController, error) {
	users, ok := o["users"].(*htpasswd.Store)
	if !ok {
		return nil, errors.New("undistro-htpasswd: no user store given")
	}
	realm, _ := o["realm"].(string)
	anon, _ := o["anonymouspull"].(bool)
	open, _ := o["open"].(bool)
	return &accessController{users: users, realm: realm, anonymousPull: anon, open: open}, nil
}

// Authorized grants or refuses one request needing access.
func (ac *accessController) Authorized(r *http.Request, access ...auth.Access) (*auth.Grant, error) {
	users, err := ac.users.Users()
	if err != nil {
		// An unreadable user file must not open the registry: refuse.
		return nil, fmt.Errorf("reading users: %w", err)
	}
	name, password, hasCreds := r.BasicAuth()
	switch {
	case len(users) == 0 && ac.open:
		return &auth.Grant{User: auth.UserInfo{Name: name}}, nil
	case hasCreds:
		if err := ac.users.Check(name, password); err != nil {
			return nil, challenge{realm: ac.realm, err: err}
		}
		return &auth.Grant{User: auth.UserInfo{Name: name}}, nil
	case ac.anonymousPull && readOnly(access):
		return &auth.Grant{}, nil
	}
	return nil, challenge{realm: ac.realm, err: auth.ErrInvalidCredential}
}

// readOnly reports whether every access is a read: pulling content or
// listing the catalog. The base route (/v2/, no access records) is not:
// it answers the challenge so that clients learn how to log in.
func readOnly(access []auth.Access) bool {
	if len(access) == 0 {
		return false
	}
	for _, a := range access {
		pull := a.Type == "repository" && a.Action == "pull"
		catalog := a.Type == "registry" && a.Name == "catalog"
		if !pull && !catalog {
			return false
		}
	}
	return true
}

// challenge answers 401 with a Basic challenge for realm.
type challenge struct {
	realm string
	err   error
}

var _ auth.Challenge = challenge{}

func (c challenge) SetHeaders(_ *http.Request, w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", c.realm))
}

func (c challenge) Error() string {
	return fmt.Sprintf("basic authentication for realm %q: %v", c.realm, c.err)
}
