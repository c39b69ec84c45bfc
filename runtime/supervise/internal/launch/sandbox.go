package launch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// devices are the host devices bind-mounted into the sandbox's /dev.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// devLinks are the symlinks the sandbox's /dev holds.
var devLinks = [][2]string{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
}

// special is a filesystem mounted on a directory of the image, if the
// image has that directory.
type special struct {
	dir, fstype, data string
	flags             uintptr
}

const hardened = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// specials are the filesystems mounted for spec: nosuid, nodev and noexec
// all, the tmpfs sized as spec says.
func specials(spec *Spec) []special {
	size := func(n int64) string {
		if n <= 0 {
			return ""
		}
		return ",size=" + strconv.FormatInt(n, 10)
	}
	if spec.Legacy {
		return []special{
			{"proc", "proc", "", hardened},
			{"dev", "tmpfs", "mode=0755,size=64k", hardened},
			{"tmp", "tmpfs", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV},
			{"run", "tmpfs", "mode=0755", unix.MS_NOSUID | unix.MS_NODEV},
		}
	}
	return []special{
		{"proc", "proc", "", hardened},
		{"dev", "tmpfs", "mode=0755,size=64k", hardened},
		{"tmp", "tmpfs", "mode=1777" + size(spec.TmpSize), hardened},
		{"run", "tmpfs", "mode=0755" + size(spec.RunSize), hardened},
	}
}

// maskedProc are the kernel files of /proc a service never reads (host
// memory, kernel addresses, other users' keys): /dev/null is bound over
// each, as container runtimes do, read-only and nodev (opening one fails).
var maskedProc = []string{"kcore", "kallsyms", "keys", "key-users", "timer_list", "sched_debug", "latency_stats", "kpagecount", "kpageflags", "kpagecgroup", "vmallocinfo", "config.gz"}

// maskedProcDirs get an empty read-only tmpfs over them.
var maskedProcDirs = []string{"acpi", "scsi", "asound", "firmware"}

// readOnlyProc are the kernel's knobs under /proc: bound read-only.
var readOnlyProc = []string{"sys", "sysrq-trigger", "bus", "fs", "irq"}

// sandbox turns this process's new mount namespace into the service's
// view: root read-only (nosuid and nodev too unless spec allows setuid),
// fresh /proc with the kernel's knobs read-only or masked, a minimal
// /dev, private /tmp and /run, the spec's writable binds; then makes
// root the root directory.
func sandbox(spec *Spec) error {
	root := spec.Root
	if !filepath.IsAbs(root) {
		return fmt.Errorf("root %q is not an absolute path", root)
	}
	// Nothing mounted from here on may reach the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting the root: %w", err)
	}
	keep, err := mountFlags(root)
	if err != nil {
		return err
	}
	for _, sp := range specials(spec) {
		if err := sp.mount(root, spec.ShmSize, spec.Legacy); err != nil {
			return err
		}
	}
	for _, b := range spec.Binds {
		if err := bind(root, b); err != nil {
			return err
		}
	}
	if !spec.Legacy {
		keep |= unix.MS_NODEV
		if !spec.AllowSetuid {
			keep |= unix.MS_NOSUID
		}
	}
	// Read-only: the root's files are hardlinks shared with the store's
	// layers and with every other image using them.
	if err := unix.Mount("", root, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|keep, ""); err != nil {
		return fmt.Errorf("remounting the root read-only: %w", err)
	}
	return enter(root)
}

// mountFlags returns the flags of the mount holding dir that a bind
// remount must repeat to keep them.
func mountFlags(dir string) (uintptr, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("reading mount flags of %s: %w", dir, err)
	}
	var f uintptr
	for _, m := range [][2]uintptr{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&m[0] != 0 {
			f |= m[1]
		}
	}
	return f, nil
}

// mount mounts sp on root/sp.dir when that is a directory (not a symlink:
// the image must not aim a mount elsewhere).
func (sp special) mount(root string, shmSize int64, legacy bool) error {
	p := filepath.Join(root, sp.dir)
	fd, err := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return nil // the image has no such directory: nothing to mount on
	}
	if err != nil {
		return fmt.Errorf("opening /%s: %w", sp.dir, err)
	}
	defer unix.Close(fd)
	// Mount on the opened directory itself, never on a path the image
	// could redirect.
	target := fmt.Sprintf("/proc/self/fd/%d", fd)
	if err := unix.Mount(sp.fstype, target, sp.fstype, sp.flags, sp.data); err != nil {
		return fmt.Errorf("mounting %s on /%s: %w", sp.fstype, sp.dir, err)
	}
	switch {
	case sp.dir == "dev":
		return populateDev(p, shmSize, legacy)
	case sp.dir == "proc" && !legacy:
		return maskProc(p)
	}
	return nil
}

// maskProc hides or freezes the kernel's files under the fresh proc at
// dir. What this kernel lacks is skipped.
func maskProc(dir string) error {
	for _, name := range maskedProc {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := unix.Mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("masking /proc/%s: %w", name, err)
		}
		// nodev too: the mask cannot even be opened.
		if err := unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|hardened, ""); err != nil {
			return fmt.Errorf("masking /proc/%s read-only: %w", name, err)
		}
	}
	for _, name := range maskedProcDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
			continue
		}
		if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|hardened, "size=0"); err != nil {
			return fmt.Errorf("masking /proc/%s: %w", name, err)
		}
	}
	for _, name := range readOnlyProc {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding /proc/%s: %w", name, err)
		}
		if err := unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|hardened, ""); err != nil {
			return fmt.Errorf("making /proc/%s read-only: %w", name, err)
		}
	}
	return nil
}

// bind mounts b.Source on b.Target inside root, writable but nosuid and
// nodev. The target is resolved beneath root without following any
// symlink, so the image cannot aim the mount elsewhere.
func bind(root string, b Bind) error {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the root: %w", err)
	}
	defer unix.Close(rfd)
	open := func() (int, error) {
		fd, err := unix.Openat2(rfd, strings.TrimPrefix(b.Target, "/"), &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return -1, fmt.Errorf("read_write_paths %s: the image has no such directory (or reaches it through a symlink): create it in the package: %w", b.Target, err)
		}
		return fd, nil
	}
	fd, err := open()
	if err != nil {
		return err
	}
	err = unix.Mount(b.Source, fmt.Sprintf("/proc/self/fd/%d", fd), "", unix.MS_BIND, "")
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("binding %s on %s: %w", b.Source, b.Target, err)
	}
	// Opened again, the directory is the new mount's root, which the
	// remount needs.
	if fd, err = open(); err != nil {
		return err
	}
	defer unix.Close(fd)
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV)
	if b.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", fmt.Sprintf("/proc/self/fd/%d", fd), "", flags, ""); err != nil {
		return fmt.Errorf("remounting %s nosuid,nodev: %w", b.Target, err)
	}
	return nil
}

// populateDev fills the fresh tmpfs at dev: bind mounts of the host's
// harmless devices, the /proc/self/fd links and a tmpfs /dev/shm.
func populateDev(dev string, shmSize int64, legacy bool) error {
	for _, name := range devices {
		host := "/dev/" + name
		if _, err := os.Stat(host); err != nil {
			continue // the host has none (tty in some containers)
		}
		p := filepath.Join(dev, name)
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err != nil {
			return fmt.Errorf("creating /dev/%s: %w", name, err)
		}
		f.Close()
		if err := unix.Mount(host, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mounting %s: %w", host, err)
		}
		if legacy {
			continue
		}
		// Devices, so not nodev; but nosuid and noexec like every mount.
		if err := unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("remounting /dev/%s nosuid,noexec: %w", name, err)
		}
	}
	for _, l := range devLinks {
		if err := os.Symlink(l[1], filepath.Join(dev, l[0])); err != nil {
			return fmt.Errorf("linking /dev/%s: %w", l[0], err)
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o755); err != nil {
		return fmt.Errorf("creating /dev/shm: %w", err)
	}
	data := "mode=1777"
	if !legacy && shmSize > 0 {
		data += ",size=" + strconv.FormatInt(shmSize, 10)
	}
	if err := unix.Mount("tmpfs", shm, "tmpfs", hardened, data); err != nil {
		return fmt.Errorf("mounting tmpfs on /dev/shm: %w", err)
	}
	return nil
}

// enter makes root this process's root directory and working directory:
// pivot_root, then detach the host's tree so nothing of it stays
// reachable. Where root cannot be pivoted to (an initramfs root), it
// falls back to chroot.
func enter(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("entering %s: %w", root, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chrooting into %s: %w", root, err)
		}
		return unix.Chdir("/")
	}
	// The old root is now stacked on "."; detach it.
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host's root: %w", err)
	}
	return unix.Chdir("/")
}

// dropped are the capabilities a service never gets, even as root: each
// would undo the sandbox (remount the root writable, reach host files by
// handle, ptrace the supervisor's other processes) or the kernel.
var dropped = []uintptr{
	unix.CAP_SYS_ADMIN, unix.CAP_DAC_READ_SEARCH, unix.CAP_SYS_PTRACE, unix.CAP_SYS_MODULE,
	unix.CAP_SYS_RAWIO, unix.CAP_SYS_BOOT, unix.CAP_MAC_ADMIN, unix.CAP_MAC_OVERRIDE, unix.CAP_BPF,
}

// dropCapabilities removes dropped from the calling thread's bounding set,
// so programs it execs or starts cannot hold them. The caller keeps this
// goroutine locked to its thread: the bounding set is per thread.
func dropCapabilities() error {
	for _, c := range dropped {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("dropping capability %d: %w", c, err)
		}
	}
	return nil
}
