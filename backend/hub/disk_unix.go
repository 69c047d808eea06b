//go:build unix

package hub

import (
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
