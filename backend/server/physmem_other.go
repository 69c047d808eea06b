//go:build !linux && !darwin

package server

// physicalMemory is unknown here.
func physicalMemory() int64 { return 0 }
