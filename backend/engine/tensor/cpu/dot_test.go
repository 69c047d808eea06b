package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The float SIMD kernels sum the same products as the portable ones in
// another order: they must agree within floatTol·Σ|w·x| (64 float32
// epsilons: the rounding of a few hundred additions is far below it; a
// wrong element or a lost tail is not).
const floatTol = 64 * 0x1p-24

func checkFloat(t *testing.T, what string, got, want float32, mag float64) {
	t.Helper()
	if d := math.Abs(float64(got - want)); d > floatTol*mag+1e-30 {
		t.Fatalf("%s: SIMD %v, portable %v: differ by %.3g > %.3g", what, got, want, d, floatTol*mag)
	}
}

// TestDenseDotSIMD compares the F32, BF16 and F16 dot products and dot4
// with the portable kernels over odd lengths (tails of every size).
func TestDenseDotSIMD(t *testing.T) {
	if simdName() == "" {
		t.Skip("no SIMD kernels on this CPU")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 896, 4867} {
		w, x := make([]float32, 4*n), make([]float32, n)
		h, bh := make([]uint16, n), make([]uint16, n)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		encodeF16(h, w[:n])
		encodeBF16(bh, w[:n])
		mag := func(dec func(int) float32) float64 {
			var m float64
			for i := range n {
				m += math.Abs(float64(dec(i) * x[i]))
			}
			return m
		}
		if s, ok := dotF32SIMD(w[:n], x); ok {
			checkFloat(t, fmt.Sprintf("f32 n=%d", n), s, dotF32(w[:n], x), mag(func(i int) float32 { return w[i] }))
		}
		if s, ok := dotHalfSIMD(bh, x, true); ok {
			checkFloat(t, fmt.Sprintf("bf16 n=%d", n), s, dotBF16(bh, x), mag(func(i int) float32 { return bf16(bh[i]) }))
		}
		if s, ok := dotHalfSIMD(h, x, false); ok {
			checkFloat(t, fmt.Sprintf("f16 n=%d", n), s, dotF16(h, x), mag(func(i int) float32 { return f16(h[i]) }))
		}
		if _, ok := dotF32SIMD(w[:n], x); !ok && n >= 8 {
			t.Fatalf("f32 n=%d declined", n)
		}
		got, ok := dot4SIMD(x, w, n)
		if !ok {
			if n >= 8 {
				t.Fatalf("dot4 n=%d declined", n)
			}
			continue
		}
		want := dot4(x, w[:n], w[n:2*n], w[2*n:3*n], w[3*n:])
		for r := range 4 {
			checkFloat(t, fmt.Sprintf("dot4 n=%d row %d", n, r), got[r], want[r], mag(func(i int) float32 { return w[r*n+i] }))
		}
	}
}
