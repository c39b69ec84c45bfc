package origin

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/distribution/distribution/v3/configuration"
	"golang.org/x/sys/unix"
)

// ErrBusy is returned when another server or garbage collection holds the
// data directory.
var ErrBusy = errors.New("registry data directory is in use")

// lockData creates data (0700) and takes its lock, exclusively and without
// waiting: the garbage collector must never run beside a server writing the
// same storage, and two servers on one directory would race on uploads.
func lockData(data string) (*os.File, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("creating registry data directory: %w", err)
	}
	p := dataPath(data, lockFile)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(p)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			who := "another process"
			if pid := strings.TrimSpace(string(holder)); pid != "" {
				who = "process " + pid
			}
			return nil, fmt.Errorf("%w: %s holds %s (an undistro serve or serve gc on %s): stop it first", ErrBusy, who, p, data)
		}
		return nil, fmt.Errorf("locking %s: %w", p, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// openData is what New and GarbageCollect both do first: apply the options,
// load the configuration for data and take data's lock. The caller closes
// the returned lock file.
func openData(data string, opts []Option) (*options, *configuration.Configuration, *os.File, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, nil, nil, err
	}
	if data == "" {
		return nil, nil, nil, errors.New("registry data directory is empty: give --data DIR")
	}
	cfg, err := loadConfig(data, o)
	if err != nil {
		return nil, nil, nil, err
	}
	lock, err := lockData(data)
	if err != nil {
		return nil, nil, nil, err
	}
	return o, cfg, lock, nil
}
