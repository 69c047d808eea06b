//go:build linux || darwin

package downloads

import (
	"os"
	"path/filepath"
	"syscall"
)

// freeDisk is the space free to this user on the file system of dir (or of
// its nearest existing parent); -1 when unknown.
func freeDisk(dir string) int64 {
	for dir != "" {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err == nil {
			return int64(st.Bavail) * int64(st.Bsize)
		} else if !os.IsNotExist(err) {
			return -1
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return -1
}
