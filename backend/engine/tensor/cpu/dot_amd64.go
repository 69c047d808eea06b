//go:build amd64

package cpu

//go:noescape
func dotF32AVX2(w *float32, x *float32, n int) float32

//go:noescape
func dotBF16AVX2(w *uint16, x *float32, n int) float32

//go:noescape
func dotF16F16C(w *uint16, x *float32, n int) float32

//go:noescape
func dot4AVX2(x *float32, w *float32, stride int, n int, out *[4]float32)

// dotF32SIMD is dotF32 on AVX2 (a different summation order: within a
// few float32 roundings of Σ|w·x|); ok is false without AVX2.
func dotF32SIMD(w, x []float32) (float32, bool) {
	n := len(w) &^ 7
	if !hasAVX2 || n == 0 {
		return 0, false
	}
	_ = x[len(w)-1]
	s := dotF32AVX2(&w[0], &x[0], n)
	return s + dotF32(w[n:], x[n:len(w)]), true
}

// dotHalfSIMD is dotBF16 (bf) or dotF16 on AVX2 / F16C.
func dotHalfSIMD(w []uint16, x []float32, bf bool) (float32, bool) {
	n := len(w) &^ 7
	if !hasAVX2 || n == 0 || (!bf && !hasF16C) {
		return 0, false
	}
	_ = x[len(w)-1]
	if bf {
		return dotBF16AVX2(&w[0], &x[0], n) + dotBF16(w[n:], x[n:len(w)]), true
	}
	return dotF16F16C(&w[0], &x[0], n) + dotF16(w[n:], x[n:len(w)]), true
}

// dot4SIMD is dot4 on AVX2 for four rows of w, stride values apart,
// each len(x) long.
func dot4SIMD(x, w []float32, stride int) ([4]float32, bool) {
	k := len(x)
	n := k &^ 7
	if !hasAVX2 || n == 0 {
		return [4]float32{}, false
	}
	_ = w[3*stride+k-1]
	var out [4]float32
	dot4AVX2(&x[0], &w[0], stride, n, &out)
	if n < k {
		t := dot4(x[n:], w[n:k], w[stride+n:stride+k], w[2*stride+n:2*stride+k], w[3*stride+n:3*stride+k])
		for i := range out {
			out[i] += t[i]
		}
	}
	return out, true
}

//go:noescape
func axpyF32AVX2(y *float32, x *float32, a float32, n int)

//go:noescape
func axpyBF16AVX2(y *float32, x *uint16, a float32, n int)

//go:noescape
func axpyF16F16C(y *float32, x *uint16, a float32, n int)

// axpySIMD is y += a·x over the longest prefix of y that is a multiple of
// 8 values, x being float32 (f), bfloat16 or IEEE half (h, bf); it
// returns that prefix's length.
func axpySIMD(y, f []float32, h []uint16, bf bool, a float32) int {
	n := len(y) &^ 7
	if !hasAVX2 || n == 0 {
		return 0
	}
	switch {
	case f != nil:
		_ = f[n-1]
		axpyF32AVX2(&y[0], &f[0], a, n)
	case bf:
		_ = h[n-1]
		axpyBF16AVX2(&y[0], &h[0], a, n)
	case hasF16C:
		_ = h[n-1]
		axpyF16F16C(&y[0], &h[0], a, n)
	default:
		return 0
	}
	return n
}
