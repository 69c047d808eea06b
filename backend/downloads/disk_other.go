//go:build !linux && !darwin

package downloads

// freeDisk is unknown here.
func freeDisk(string) int64 { return -1 }
