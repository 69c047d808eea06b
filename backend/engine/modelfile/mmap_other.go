//go:build !unix

package modelfile

import "os"

// mapFile reads the file: this system has no syscall.Mmap.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	return readFile(f, size)
}
