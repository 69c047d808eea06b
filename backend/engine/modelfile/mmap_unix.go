//go:build unix

package modelfile

import (
	"os"
	"syscall"
)

// mapFile maps f's size bytes read-only and shared, so the pages come
// from the page cache and never count against the Go heap. Where mapping
// fails (a file system without mmap, say) it reads the file instead.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if size <= 0 || int64(int(size)) != size {
		return readFile(f, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return readFile(f, size)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
