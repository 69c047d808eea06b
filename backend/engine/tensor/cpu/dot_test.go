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

// TestAxpySIMD compares attention's y += a·x on float32, bfloat16 and
// IEEE half values with the portable loops: one product and one addition
// per element, so the two agree to the last bit but for FMA's single
// rounding (within an epsilon of |y| + |a·x|).
func TestAxpySIMD(t *testing.T) {
	if simdName() == "" {
		t.Skip("no SIMD kernels on this CPU")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{8, 16, 64, 72, 128} {
		f, h, bh, y := make([]float32, n), make([]uint16, n), make([]uint16, n), make([]float32, n)
		for i := range f {
			f[i], y[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		encodeF16(h, f)
		encodeBF16(bh, f)
		const a = 0.37
		for _, c := range []struct {
			name string
			f    []float32
			h    []uint16
			bf   bool
			ref  func([]float32)
			dec  func(int) float32
		}{
			{"f32", f, nil, false, func(y []float32) { axpy(y, f, a) }, func(i int) float32 { return f[i] }},
			{"bf16", nil, bh, true, func(y []float32) { axpyBF16(y, bh, a) }, func(i int) float32 { return bf16(bh[i]) }},
			{"f16", nil, h, false, func(y []float32) { axpyF16(y, h, a) }, func(i int) float32 { return f16(h[i]) }},
		} {
			got, want := append([]float32(nil), y...), append([]float32(nil), y...)
			if axpySIMD(got, c.f, c.h, c.bf, a) != n {
				t.Fatalf("%s n=%d: declined", c.name, n)
			}
			c.ref(want)
			for i := range n {
				tol := 0x1p-23 * (math.Abs(float64(y[i])) + math.Abs(float64(a*c.dec(i))))
				if d := math.Abs(float64(got[i] - want[i])); d > tol {
					t.Fatalf("%s n=%d [%d]: SIMD %v, portable %v", c.name, n, i, got[i], want[i])
				}
			}
		}
	}
}
