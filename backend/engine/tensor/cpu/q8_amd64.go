//go:build amd64

package cpu

import "golang.org/x/sys/cpu"

// The AVX2 kernels (q8_amd64.s) run where the CPU has AVX2 and FMA (every
// x86 since 2013–2015); F16 scales are converted with F16C, which
// golang.org/x/sys/cpu does not report, so it is read from CPUID.
var (
	hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasF16C = hasAVX2 && cpuidECX1()&(1<<29) != 0
	// VPDPBUSD on 256-bit registers (the four-row prefill kernel): AVX-512
	// VNNI with AVX512VL (Ice Lake and later Xeons, Zen 4), which
	// golang.org/x/sys/cpu reports only where the OS saves the registers.
	hasVNNI = hasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
)

// simdName names the SIMD kernels this CPU runs ("" for none); the
// VPDPBUSD ones are named apart (vnniName).
func simdName() string {
	if hasAVX2 {
		return "avx2"
	}
	return ""
}

// vnniName names the VPDPBUSD kernels ("" where the CPU lacks them).
func vnniName() string {
	if hasVNNI {
		return "avx512-vnni"
	}
	return ""
}

//go:noescape
func dotQ4Q8AVX2(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs *float32, groups int, per int, rows int, out *float32)

//go:noescape
func dotQ4Q8G32AVX2(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs *float32, chunks int, rows int, out *float32)

//go:noescape
func dotQ4Q8G64AVX2(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs *float32, groups int, rows int, out *float32)

//go:noescape
func dotQ4Q8G64x4AVX2(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs4 *float32, groups int, cols int, rows int, out *float32)

//go:noescape
func dotQ4Q8G64VNNI(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs *float32, groups int, rows int, out *float32)

//go:noescape
func dotQ4Q8G64x4VNNI(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs4 *float32, groups int, cols int, rows int, out *float32)

//go:noescape
func dotQ8Q8x4VNNI(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs4 *float32, groups int, per int, cols int, rows int, out *float32)

//go:noescape
func dotQ8Q8AVX2(q *uint32, xq *int8, d4 *float32, sc *float32, bi *float32, xs *float32, groups int, per int, rows int, out *float32)

//go:noescape
func cvtBF16AVX2(dst *float32, src *uint16, n int)

//go:noescape
func cvtF16F16C(dst *float32, src *uint16, n int)

func cpuidECX1() uint32

// dotQ4Q8SIMD is dotQ4Q8Go on AVX2 for len(out) consecutive weight rows
// (q, sc and bi hold them all), for rows of whole 64-value chunks, with
// the VPDPBUSD kernel where vnni is set and the CPU has it; it returns
// false where it does not apply.
func dotQ4Q8SIMD(q []uint32, r q8Row, sc, bi []float32, group int, out []float32, vnni bool) bool {
	rows := len(out)
	if !hasAVX2 || rows == 0 || len(q)%rows != 0 {
		return false
	}
	cols := 8 * len(q) / rows
	if cols == 0 || cols%64 != 0 {
		return false
	}
	groups := cols / group
	// The bounds the kernel relies on, checked here once.
	_, _, _, _, _ = r.q[cols-1], r.d4[cols/8-1], sc[rows*groups-1], bi[rows*groups-1], r.xs[groups-1]
	switch group {
	case 32:
		dotQ4Q8G32AVX2(&q[0], &r.q[0], &r.d4[0], &sc[0], &bi[0], &r.xs[0], cols/64, rows, &out[0])
	case 64:
		if vnni && hasVNNI {
			dotQ4Q8G64VNNI(&q[0], &r.q[0], &r.d4[0], &sc[0], &bi[0], &r.xs[0], groups, rows, &out[0])
		} else {
			dotQ4Q8G64AVX2(&q[0], &r.q[0], &r.d4[0], &sc[0], &bi[0], &r.xs[0], groups, rows, &out[0])
		}
	default:
		dotQ4Q8AVX2(&q[0], &r.q[0], &r.d4[0], &sc[0], &bi[0], &r.xs[0], groups, group/64, rows, &out[0])
	}
	return true
}

// dotQ4Q8x4SIMD is dotQ4Q8SIMD for four rows of x at once (prefill), for
// 4-bit weights in groups of 64: x is the first of four consecutive
// rounded rows, xs4 their activation sums per group side by side
// (q8Buffers.xs4); out[4i+r] is weight row i times x row r.
func dotQ4Q8x4SIMD(q []uint32, x q8Row, xs4, sc, bi []float32, group int, out []float32, vnni bool) bool {
	rows := len(out) / 4
	if !hasAVX2 || group != 64 || rows == 0 || len(q)%rows != 0 {
		return false
	}
	cols := 8 * len(q) / rows
	if cols == 0 || cols%64 != 0 {
		return false
	}
	groups := cols / group
	xq, d4 := x.q[:4*cols], x.d4[:4*cols/8] // the four rows follow the first in the buffers
	_, _, _, _, _ = xq[4*cols-1], d4[4*cols/8-1], sc[rows*groups-1], bi[rows*groups-1], xs4[4*groups-1]
	if vnni && hasVNNI {
		dotQ4Q8G64x4VNNI(&q[0], &xq[0], &d4[0], &sc[0], &bi[0], &xs4[0], groups, cols, rows, &out[0])
	} else {
		dotQ4Q8G64x4AVX2(&q[0], &xq[0], &d4[0], &sc[0], &bi[0], &xs4[0], groups, cols, rows, &out[0])
	}
	return true
}

// dotQ8Q8x4SIMD is dotQ4Q8x4SIMD for 8-bit weights in groups of any
// multiple of 32, where vnni is set and the CPU has VPDPBUSD (AVX2 has no
// four-row 8-bit kernel: VPMADDUBSW would saturate on 8-bit weights).
func dotQ8Q8x4SIMD(q []uint32, x q8Row, xs4, sc, bi []float32, group int, out []float32, vnni bool) bool {
	rows := len(out) / 4
	if !vnni || !hasVNNI || group%q8Block != 0 || rows == 0 || len(q)%rows != 0 {
		return false
	}
	cols := 4 * len(q) / rows
	if cols == 0 || cols%group != 0 {
		return false
	}
	groups := cols / group
	xq, d4 := x.q[:4*cols], x.d4[:4*cols/8] // the four rows follow the first in the buffers
	_, _, _, _, _ = xq[4*cols-1], d4[4*cols/8-1], sc[rows*groups-1], bi[rows*groups-1], xs4[4*groups-1]
	dotQ8Q8x4VNNI(&q[0], &xq[0], &d4[0], &sc[0], &bi[0], &xs4[0], groups, group/q8Block, cols, rows, &out[0])
	return true
}

// dotQ8Q8SIMD is dotQ4Q8SIMD for 8-bit weights.
func dotQ8Q8SIMD(q []uint32, r q8Row, sc, bi []float32, group int, out []float32) bool {
	rows := len(out)
	if !hasAVX2 || rows == 0 || len(q)%rows != 0 {
		return false
	}
	cols := 4 * len(q) / rows
	if cols == 0 || cols%q8Block != 0 {
		return false
	}
	groups := cols / group
	_, _, _, _, _ = r.q[cols-1], r.d4[cols/8-1], sc[rows*groups-1], bi[rows*groups-1], r.xs[groups-1]
	dotQ8Q8AVX2(&q[0], &r.q[0], &r.d4[0], &sc[0], &bi[0], &r.xs[0], groups, group/q8Block, rows, &out[0])
	return true
}

// cvtHalfSIMD converts the longest prefix of src that is a multiple of 8
// values (bf16: bfloat16, else IEEE half) into dst and returns its length.
func cvtHalfSIMD(dst []float32, src []uint16, bf bool) int {
	n := len(src) &^ 7
	if n == 0 || !hasAVX2 || (!bf && !hasF16C) {
		return 0
	}
	_ = dst[n-1]
	if bf {
		cvtBF16AVX2(&dst[0], &src[0], n)
	} else {
		cvtF16F16C(&dst[0], &src[0], n)
	}
	return n
}

//go:noescape
func sumStreamAVX2(p *uint64, n int) uint64

// sumWordsSIMD is sumWords with AVX2 loads and the weight kernels'
// prefetch; false without AVX2.
func sumWordsSIMD(v []uint64) (uint64, bool) {
	if !hasAVX2 {
		return 0, false
	}
	n := len(v) / 16 * 16
	var s uint64
	if n > 0 {
		s = sumStreamAVX2(&v[0], n)
	}
	for _, w := range v[n:] {
		s += w
	}
	return s, true
}
