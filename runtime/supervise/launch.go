package supervise

import "github.com/un-distro/undistro/runtime/supervise/internal/launch"

// MaybeLaunch runs the service launcher, which sets up the sandbox and
// execs the service (or exits on failure), when this process was
// started as one by a Supervisor that chroots (os.Args[1] is "__launch");
// otherwise it returns at once. Call it as the first statement of main,
// and of TestMain in tests whose supervisors chroot: the supervisor starts
// each sandboxed service by re-executing /proc/self/exe, so the program
// must know to become the launcher (see Options.Chroot).
func MaybeLaunch() { launch.Main() }
