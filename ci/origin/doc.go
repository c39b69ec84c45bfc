// Package origin is undistro's origin registry: the CNCF distribution
// registry engine (github.com/distribution/distribution/v3) run in process
// by `undistro serve`, the place `undistro build --push` publishes signed
// images to and nodes pull them from.
//
// Storage is the engine's: the filesystem driver under the data directory
// unless the engine's own YAML configuration (WithConfigFile) says
// otherwise, so everything the engine keeps — every manifest revision,
// deletes, uploads resumable on disk — survives a restart as in any
// distribution deployment, and GarbageCollect runs the engine's
// mark-and-sweep on it.
//
// What undistro adds in front of the engine:
//   - users in DATA/htpasswd (bcrypt; AddUser, RemoveUser, Users), needed
//     for push and delete once one exists; anonymous pull on by default;
//   - a refusal to listen beyond loopback without users and TLS
//     (WithInsecure overrides), see New;
//   - a front door that refuses repository names outside the OCI grammar
//     before they reach storage and drops request bodies that stall.
package origin
