//go:build !amd64

package cpu

// Without SIMD kernels for this architecture, the portable ones run.

func simdName() string { return "" }

func vnniName() string { return "" }

func dotQ4Q8SIMD(q []uint32, r q8Row, sc, bi []float32, group int, out []float32, vnni bool) bool {
	return false
}

func dotQ8Q8SIMD(q []uint32, r q8Row, sc, bi []float32, group int, out []float32) bool { return false }

func cvtHalfSIMD(dst []float32, src []uint16, bf bool) int { return 0 }

func dotF32SIMD(w, x []float32) (float32, bool) { return 0, false }

func dotHalfSIMD(w []uint16, x []float32, bf bool) (float32, bool) { return 0, false }

func dot4SIMD(x, w []float32, stride int) ([4]float32, bool) { return [4]float32{}, false }

func axpySIMD(y, f []float32, h []uint16, bf bool, a float32) int { return 0 }

func dotQ8Q8x4SIMD(q []uint32, x q8Row, xs4, sc, bi []float32, group int, out []float32, vnni bool) bool {
	return false
}

func dotQ4Q8x4SIMD(q []uint32, x q8Row, xs4, sc, bi []float32, group int, out []float32, vnni bool) bool {
	return false
}

func sumWordsSIMD(v []uint64) (uint64, bool) { return 0, false }
