package cpu

import (
	"sync"
	"time"
)

// MemoryBandwidth measures how fast this machine streams memory to its
// cores, in bytes per second: the best of rounds passes in which threads
// goroutines each sum a disjoint part of a buffer of size bytes (far
// larger than the caches). Where the CPU has the SIMD kernels it reads as
// they read weights (256-bit loads, prefetching as they do), so the
// figure is the ceiling of a decode step, which reads every weight once;
// a plain Go loop is bound by its additions well below that ceiling.
func MemoryBandwidth(size, threads, rounds int) float64 {
	threads = max(threads, 1)
	buf := make([]uint64, size/8)
	for i := range buf {
		buf[i] = uint64(i) // touch every page before timing
	}
	part := len(buf) / threads / 16 * 16
	best := 0.0
	for range rounds {
		start := time.Now()
		var wg sync.WaitGroup
		sums := make([]uint64, threads)
		for t := range threads {
			wg.Go(func() { sums[t] = sumWords(buf[t*part : (t+1)*part]) })
		}
		wg.Wait()
		best = max(best, float64(8*part*threads)/time.Since(start).Seconds())
		for _, s := range sums {
			bandwidthSink += s
		}
	}
	return best
}

// bandwidthSink keeps the sums alive so that the reads cannot be dropped.
var bandwidthSink uint64

// sumWords is the wrapping sum of v.
func sumWords(v []uint64) uint64 {
	if s, ok := sumWordsSIMD(v); ok {
		return s
	}
	var s [8]uint64 // eight chains, so the loop waits on loads, not on additions
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := v[i : i+8 : i+8]
		s[0] += w[0]
		s[1] += w[1]
		s[2] += w[2]
		s[3] += w[3]
		s[4] += w[4]
		s[5] += w[5]
		s[6] += w[6]
		s[7] += w[7]
	}
	for ; i < len(v); i++ {
		s[0] += v[i]
	}
	return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7]
}
