package cpu

import (
	"math/rand/v2"
	"testing"
)

// TestSumWords: the SIMD reader behind MemoryBandwidth sums exactly what a
// plain loop sums (wrapping), at lengths with and without a tail.
func TestSumWords(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 100, 4096, 4099} {
		v := make([]uint64, n)
		var want uint64
		for i := range v {
			v[i] = rng.Uint64()
			want += v[i]
		}
		if got := sumWords(v); got != want {
			t.Errorf("sumWords of %d words = %d, want %d", n, got, want)
		}
	}
	if bw := MemoryBandwidth(8<<20, 2, 1); !(bw > 0) {
		t.Errorf("MemoryBandwidth = %v, want a positive rate", bw)
	}
}
