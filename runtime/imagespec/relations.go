package imagespec

// Provide is what a role's nodes offer their peers under one name
// ([provides.NAME] in images/ROLE.toml): a port on the node's address.
type Provide struct {
	Port int `json:"port"`
}

// Require is what a role's nodes need from their peers under one name
// ([requires.NAME]): the live, healthy nodes of Role that provide
// Provides. Templates list them with `peers "NAME"`.
type Require struct {
	Role     string `json:"role"`
	Provides string `json:"provides"`
}
