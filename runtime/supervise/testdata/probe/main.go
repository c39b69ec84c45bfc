// Command probe tries, from inside a service, what a sandboxed service
// must not do, and prints one JSON line saying what happened: the tests of
// the service sandbox run it as a service and assert on that line. Every
// attempt is harmless on a host where it succeeds: it writes back the
// value it read, opens without writing, or binds nothing anyone uses.
//
// It runs only with PROBE_SANDBOXED=1: never run it on a host by hand.
// Environment: PROBE_KEY (a key id in the host's keyring), PROBE_SHM (a
// host SysV shared memory id), PROBE_PORT (a port on the host's
// 127.0.0.1), PROBE_SUID (a setuid copy of this program), PROBE_ALLOC_MB
// (allocate and touch this much, then report), PROBE_TASKS (start this
// many processes). "probe whoami" prints the effective uid and
// capabilities; "probe sleep" sleeps.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Result is what the probe prints.
type Result struct {
	UID, EUID  int
	Status     map[string]string // CapEff, CapPrm, CapBnd, CapAmb, CapInh, NoNewPrivs, Seccomp
	Checks     map[string]string // name -> "allowed" or "refused: ERR"
	FDs        []string          // descriptors above 2
	SetuidExec string            // what the setuid copy said
	Tasks      int               // processes started before the limit
	Allocated  int               // MiB allocated and touched
	Mounts     []string          // mounts lacking nosuid, nodev or (where the service writes) noexec
}

func main() {
	// Some attempts (a mount) change a host where they succeed: refuse to
	// run anywhere but in the tests, which set PROBE_SANDBOXED.
	if os.Getenv("PROBE_SANDBOXED") != "1" && (len(os.Args) < 2 || os.Args[1] != "whoami") {
		fmt.Fprintln(os.Stderr, "probe: run only as a sandboxed test service (PROBE_SANDBOXED=1)")
		os.Exit(3)
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "whoami":
			st := status()
			fmt.Printf("euid=%d capEff=%s", os.Geteuid(), st["CapEff"])
			return
		case "sleep":
			time.Sleep(time.Hour)
			return
		}
	}
	r := Result{UID: os.Getuid(), EUID: os.Geteuid(), Status: status(), Checks: map[string]string{}}
	check := func(name string, err error) {
		if err == nil {
			r.Checks[name] = "allowed"
		} else {
			r.Checks[name] = "refused: " + err.Error()
		}
	}
	check("write_core_pattern", writeBack("/proc/sys/kernel/core_pattern"))
	check("write_hostname", writeBack("/proc/sys/kernel/hostname"))
	check("write_ip_forward", writeBack("/proc/sys/net/ipv4/ip_forward"))
	check("open_sysrq_trigger", openWrite("/proc/sysrq-trigger"))
	check("read_kcore", readSome("/proc/kcore"))
	check("read_kallsyms_addresses", kallsyms())
	check("sethostname", sethostname())
	check("af_packet", afPacket())
	check("unshare_user", unshareUser())
	check("keyctl_host_key", keyctlRead())
	check("shmat_host_segment", shmat())
	check("connect_host_loopback", connectHost())
	check("bind_port_80", bind80())
	check("exec_from_tmp", execTmp())
	check("mount_tmpfs", mountTmpfs())
	check("nice_minus_20", syscall.Setpriority(syscall.PRIO_PROCESS, 0, -20))
	check("bpf", rawErr(sysBPF, 0, 0, 0))
	check("perf_event_open", rawErr(sysPerfEventOpen, 0, 0, 0))
	check("io_uring_setup", rawErr(sysIOURingSetup, 1, 0, 0))
	check("syslog_read", rawErr(syscall.SYS_SYSLOG, 10, 0, 0))
	check("init_module", rawErr(syscall.SYS_INIT_MODULE, 0, 0, 0))
	r.FDs = fds()
	r.Mounts = mounts()
	if p := os.Getenv("PROBE_SUID"); p != "" {
		out, err := exec.Command(p, "whoami").CombinedOutput()
		r.SetuidExec = strings.TrimSpace(string(out))
		if err != nil {
			r.SetuidExec += " (" + err.Error() + ")"
		}
	}
	if n, _ := strconv.Atoi(os.Getenv("PROBE_TASKS")); n > 0 {
		r.Tasks = tasks(n)
	}
	if n, _ := strconv.Atoi(os.Getenv("PROBE_ALLOC_MB")); n > 0 {
		keep := make([][]byte, 0, n)
		for range n {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		r.Allocated = len(keep)
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

// status returns the capability, no_new_privs and seccomp lines of
// /proc/self/status.
func status() map[string]string {
	out := map[string]string{}
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		switch k {
		case "CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh", "NoNewPrivs", "Seccomp":
			if ok {
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// writeBack writes p's own value back to it.
func writeBack(p string) error {
	v, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(v)
	return err
}

func openWrite(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// readSome reads a byte of p: refused when it cannot, or reads nothing
// (masked by /dev/null).
func readSome(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	n, err := f.Read(b)
	if n == 0 {
		return fmt.Errorf("read nothing (masked): %v", err)
	}
	return nil
}

// kallsyms is allowed when /proc/kallsyms shows a non-zero address.
func kallsyms() error {
	b, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		return err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	addr, _, _ := strings.Cut(line, " ")
	if strings.Trim(addr, "0") == "" {
		return fmt.Errorf("no addresses (masked or hidden)")
	}
	return nil
}

func sethostname() error {
	h, err := os.Hostname()
	if err != nil {
		return err
	}
	return syscall.Sethostname([]byte(h))
}

func afPacket() error {
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0x0300) // htons(ETH_P_ALL)
	if err != nil {
		return err
	}
	return syscall.Close(fd)
}

// unshareUser starts a process in a new user namespace: Go is
// multi-threaded, so unshare(CLONE_NEWUSER) itself could not work here.
func unshareUser() error {
	cmd := exec.Command("/proc/self/exe", "whoami")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	return cmd.Run()
}

const (
	keyctlRead_ = 11 // KEYCTL_READ
)

func keyctlRead() error {
	id, err := strconv.Atoi(os.Getenv("PROBE_KEY"))
	if err != nil {
		return fmt.Errorf("no PROBE_KEY")
	}
	buf := make([]byte, 256)
	_, _, e := syscall.Syscall6(syscall.SYS_KEYCTL, keyctlRead_, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func shmat() error {
	id, err := strconv.Atoi(os.Getenv("PROBE_SHM"))
	if err != nil {
		return fmt.Errorf("no PROBE_SHM")
	}
	addr, _, e := syscall.Syscall(syscall.SYS_SHMAT, uintptr(id), 0, 0x1000) // SHM_RDONLY
	if e != 0 {
		return e
	}
	syscall.Syscall(syscall.SYS_SHMDT, addr, 0, 0)
	return nil
}

func connectHost() error {
	port := os.Getenv("PROBE_PORT")
	if port == "" {
		return fmt.Errorf("no PROBE_PORT")
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

func bind80() error {
	l, err := net.Listen("tcp", "127.0.0.1:80")
	if err != nil {
		return err
	}
	return l.Close()
}

// execTmp copies this program to /tmp and runs it.
func execTmp() error {
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		return err
	}
	p := "/tmp/probe-exec"
	if err := os.WriteFile(p, self, 0o755); err != nil {
		return err
	}
	defer os.Remove(p)
	return exec.Command(p, "whoami").Run()
}

// mountTmpfs mounts a tmpfs on a directory of its own, and unmounts it
// at once when that worked.
func mountTmpfs() error {
	dir, err := os.MkdirTemp("", "probe-mnt")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4k"); err != nil {
		return err
	}
	return syscall.Unmount(dir, syscall.MNT_DETACH)
}

func rawErr(nr, a1, a2, a3 uintptr) error {
	_, _, e := syscall.Syscall(nr, a1, a2, a3)
	if e == syscall.EPERM || e == syscall.EACCES || e == syscall.ENOSYS {
		return e
	}
	return nil // reached the kernel, which judged the (bogus) arguments
}

// fds lists the open descriptors above stderr (the one reading the list
// aside).
func fds() []string {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	out := []string{}
	for _, n := range names {
		fd, _ := strconv.Atoi(n)
		if fd <= 2 || uintptr(fd) == f.Fd() {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + n)
		if strings.HasPrefix(target, "anon_inode:[eventpoll]") || strings.HasPrefix(target, "anon_inode:[eventfd]") {
			continue // the Go runtime's own
		}
		out = append(out, n+" -> "+target)
	}
	return out
}

// tasks starts n sleeping copies of this program, counts how many
// started, and kills them.
func tasks(n int) int {
	var cmds []*exec.Cmd
	for range n {
		c := exec.Command("/proc/self/exe", "sleep")
		if err := c.Start(); err != nil {
			break
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		c.Process.Kill()
		c.Wait()
	}
	return len(cmds)
}

// devices are the sandbox's device nodes: bind mounts that must not be
// nodev.
var devices = map[string]bool{"/dev/null": true, "/dev/zero": true, "/dev/full": true, "/dev/random": true, "/dev/urandom": true, "/dev/tty": true}

// mounts lists, from /proc/self/mountinfo, each mount without nosuid,
// without nodev (the device nodes aside) or, for the writable tmpfs
// /tmp, /run and /dev/shm, without noexec.
func mounts() []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []string{err.Error()}
	}
	out := []string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		at, opts := f[4], ","+f[5]+","
		var lack []string
		if !strings.Contains(opts, ",nosuid,") {
			lack = append(lack, "nosuid")
		}
		if !devices[at] && !strings.Contains(opts, ",nodev,") {
			lack = append(lack, "nodev")
		}
		if (at == "/tmp" || at == "/run" || at == "/dev/shm") && !strings.Contains(opts, ",noexec,") {
			lack = append(lack, "noexec")
		}
		if len(lack) > 0 {
			out = append(out, at+" lacks "+strings.Join(lack, ","))
		}
	}
	return out
}
