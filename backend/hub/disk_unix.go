//go:build unix

package hub

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

var errNoSpace error = syscall.ENOSPC

// diskFree is the space an unprivileged user may still use at path.
func diskFree(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(uint64(st.Bavail) * uint64(st.Bsize)), nil
}

// flockTry takes an exclusive flock on f without waiting — the lock
// huggingface_hub's FileLock takes, so the two never write one blob at
// once.
func flockTry(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
