// Package tomlpos moved to internal/tomlpos, where the runtime (the node's
// config file) can use it too. This forwarding shim keeps code written
// against the old path compiling while branches merge; import
// github.com/un-distro/undistro/internal/tomlpos instead.
//
// Deprecated: use internal/tomlpos.
package tomlpos

import "github.com/un-distro/undistro/internal/tomlpos"

type (
	Index    = tomlpos.Index
	Position = tomlpos.Position
	Error    = tomlpos.Error
	Errors   = tomlpos.Errors
)

var (
	Decode    = tomlpos.Decode
	DropNear  = tomlpos.DropNear
	Suggest   = tomlpos.Suggest
	KeyString = tomlpos.KeyString
)
