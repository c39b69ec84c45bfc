// Package role reads machine roles, images/ROLE.toml: which packages an
// image of the role holds, which build options it overrides, which config
// files (from images/ROLE/), users and groups it adds, and which services of
// its packages it enables, with overrides. Roles inherit other roles, in
// order, later wins.
//
// [Load] resolves inheritance with the same strict, positioned errors as
// recipes (builder/recipe). [Role.Services] turns the enabled services into
// the runtime's metadata (runtime/imagespec).
package role
