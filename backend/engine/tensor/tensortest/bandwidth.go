package tensortest

import (
	"sync"
	"time"
)

// MemoryBandwidth measures how fast this machine streams memory: the best
// of rounds passes of threads goroutines summing disjoint parts of a
// bytes-long []uint32 (far larger than the caches). It returns bytes per
// second. This is the ceiling of a decode step, which reads every weight
// once.
func MemoryBandwidth(bytes, threads, rounds int) float64 {
	buf := make([]uint32, bytes/4)
	for i := range buf {
		buf[i] = uint32(i) // touch every page before timing
	}
	best := 0.0
	for range rounds {
		start := time.Now()
		sumParallel(buf, threads)
		best = max(best, float64(4*len(buf))/time.Since(start).Seconds())
	}
	return best
}

// sink keeps the sums alive so the compiler cannot drop the loops.
var sink uint32

func sumParallel(buf []uint32, threads int) {
	var wg sync.WaitGroup
	sums := make([]uint32, threads)
	part := (len(buf) + threads - 1) / threads
	for i := range threads {
		lo, hi := min(i*part, len(buf)), min((i+1)*part, len(buf))
		wg.Go(func() { sums[i] = Sum32(buf[lo:hi]) })
	}
	wg.Wait()
	for _, s := range sums {
		sink += s
	}
}

// Sum32 is the wrapping sum of v, with eight accumulators so the loop is
// bound by loads, not by additions.
func Sum32(v []uint32) uint32 {
	var s [8]uint32
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
