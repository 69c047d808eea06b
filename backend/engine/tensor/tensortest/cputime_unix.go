//go:build unix

package tensortest

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time the process has used so far. On a shared
// machine, work per CPU-second (times the cores) says what a kernel does
// with the cores to itself, where wall-clock rates depend on the
// neighbours.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
