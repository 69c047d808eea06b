package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// q8Case is a random quantized row and activations for the kernel tests.
type q8Case struct {
	bits, group, cols int
	q                 []uint32
	r                 q8Row
	sc, bi            []float32
	vnni              bool // simd takes the VPDPBUSD kernels where the CPU has them
}

// newQ8Case makes random weights and activations. unit makes every scale
// 1 and every bias 0, so that the float combination is exact and the
// result is the integer dot product itself.
func newQ8Case(rng *rand.Rand, bits, group, cols int, unit bool) q8Case {
	c := q8Case{bits: bits, group: group, cols: cols, q: make([]uint32, cols*bits/32)}
	for i := range c.q {
		c.q[i] = rng.Uint32()
	}
	groups, blocks := cols/group, cols/q8Block
	c.r = q8Row{q: make([]int8, cols), d4: make([]float32, 4*blocks), xs: make([]float32, groups)}
	c.sc, c.bi = make([]float32, groups), make([]float32, groups)
	for i := range c.r.q {
		c.r.q[i] = int8(rng.IntN(255) - 127) // -127..127, as quantizeQ8 makes them
	}
	for b := range blocks {
		d := float32(1)
		if !unit {
			d = rng.Float32() * 0.01
		}
		c.r.d4[4*b], c.r.d4[4*b+1], c.r.d4[4*b+2], c.r.d4[4*b+3] = d, d, d, d
	}
	for g := range groups {
		c.sc[g], c.bi[g], c.r.xs[g] = 1, 0, 0
		if !unit {
			c.sc[g], c.bi[g], c.r.xs[g] = rng.Float32()*0.1, rng.Float32()-0.5, rng.Float32()*4-2
		}
	}
	return c
}

func (c q8Case) portable() float32 {
	if c.bits == 4 {
		return dotQ4Q8Go(c.q, c.r, c.sc, c.bi, c.group)
	}
	return dotQ8Q8Go(c.q, c.r, c.sc, c.bi, c.group)
}

func (c q8Case) simd() (float32, bool) {
	out := make([]float32, 1)
	var ok bool
	if c.bits == 4 {
		ok = dotQ4Q8SIMD(c.q, c.r, c.sc, c.bi, c.group, out, c.vnni)
	} else {
		ok = dotQ8Q8SIMD(c.q, c.r, c.sc, c.bi, c.group, out)
	}
	return out[0], ok
}

// exact is the integer dot product computed from the definition: weight
// field i (bits wide, lowest first) times activation i, found through
// q8Layout.
func (c q8Case) exact() int64 {
	per := 32 / c.bits
	var s int64
	for i := range c.cols {
		w := int64(c.q[i/per] >> (c.bits * (i % per)) & (1<<c.bits - 1))
		s += w * int64(c.r.q[q8Layout(i, c.cols, c.bits)])
	}
	return s
}

// terms is Σ|term| of the float combination: the scale of its rounding.
func (c q8Case) terms() float64 {
	per := c.group / q8Block
	var t float64
	for g := range c.sc {
		for b := g * per; b < (g+1)*per; b++ {
			var blk int64
			for i := b * q8Block; i < (b+1)*q8Block; i++ {
				blk += int64(c.q[i*c.bits/32]>>(c.bits*(i%(32/c.bits)))&(1<<c.bits-1)) * int64(c.r.q[q8Layout(i, c.cols, c.bits)])
			}
			t += math.Abs(float64(c.sc[g]) * float64(c.r.d4[4*b]) * float64(blk))
		}
		t += math.Abs(float64(c.bi[g]) * float64(c.r.xs[g]))
	}
	return t
}

// checkQ8Case checks the portable kernel against the definition and the
// SIMD kernel against the portable one: exactly when unit (both compute
// the integer dot product, which float32 holds exactly below 2^24), else
// within 64 float32 epsilons of Σ|term| (the two sum the same terms in
// different orders).
func checkQ8Case(t *testing.T, c q8Case, unit bool) {
	t.Helper()
	what := fmt.Sprintf("q%d g%d cols %d", c.bits, c.group, c.cols)
	p := c.portable()
	if unit {
		if want := c.exact(); int64(p) != want || float32(want) != p {
			t.Fatalf("%s: portable %v, integer dot product %d", what, p, want)
		}
	}
	s, ok := c.simd()
	if !ok {
		if simdName() != "" && (c.bits == 8 || c.cols%64 == 0) {
			t.Fatalf("%s: the SIMD kernel declined a row it should take", what)
		}
		return
	}
	if unit {
		if s != p {
			t.Fatalf("%s: SIMD %v, portable %v (exact integer dot product)", what, s, p)
		}
		return
	}
	if tol := 64 * 0x1p-24 * c.terms(); math.Abs(float64(s-p)) > tol {
		t.Fatalf("%s: SIMD %v, portable %v: differ by %.3g > %.3g", what, s, p, math.Abs(float64(s-p)), tol)
	}
}

// eachKernelSet runs test with the AVX2 kernels alone (vnni false) and,
// where the CPU has AVX-512 VNNI, with the VPDPBUSD kernels that then
// replace some of them.
func eachKernelSet(t *testing.T, test func(t *testing.T, vnni bool)) {
	t.Run("avx2", func(t *testing.T) { test(t, false) })
	if vnniName() == "" {
		t.Log("no AVX-512 VNNI on this CPU: its kernels are not tested")
		return
	}
	t.Run("vnni", func(t *testing.T) { test(t, true) })
}

// TestQ8Kernels covers every bit width and group size, rows of one
// group to thousands of values, with extreme weights and activations.
func TestQ8Kernels(t *testing.T) {
	if simdName() == "" {
		t.Log("no SIMD kernels on this CPU: checking the portable kernels only")
	}
	eachKernelSet(t, testQ8Kernels)
}

func testQ8Kernels(t *testing.T, vnni bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bits := range []int{4, 8} {
		for _, group := range []int{32, 64, 128} {
			for _, groups := range []int{1, 2, 3, 7, 14, 76} {
				cols := group * groups
				for _, unit := range []bool{true, false} {
					c := newQ8Case(rng, bits, group, cols, unit)
					c.vnni = vnni
					checkQ8Case(t, c, unit)
				}
			}
			// Saturation: every weight at its maximum, every activation
			// at ±127 (VPMADDUBSW would saturate on 8-bit weights).
			for _, sign := range []int8{127, -127} {
				c := newQ8Case(rng, bits, group, 4*group, true)
				c.vnni = vnni
				for i := range c.q {
					c.q[i] = math.MaxUint32
				}
				for i := range c.r.q {
					c.r.q[i] = sign
				}
				checkQ8Case(t, c, true)
			}
		}
	}
}

// TestQ8KernelsManyRows runs the SIMD kernels over several consecutive
// weight rows in one call (as MatMul does): each output is the one-row
// kernel's, exactly.
func TestQ8KernelsManyRows(t *testing.T) {
	if simdName() == "" {
		t.Skip("no SIMD kernels on this CPU")
	}
	eachKernelSet(t, testQ8KernelsManyRows)
}

func testQ8KernelsManyRows(t *testing.T, vnni bool) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, bits := range []int{4, 8} {
		for _, group := range []int{32, 64, 128} {
			const rows = 5
			cases := make([]q8Case, rows)
			var q []uint32
			var sc, bi []float32
			for i := range cases {
				cases[i] = newQ8Case(rng, bits, group, 3*128, false)
				cases[i].vnni = vnni
				cases[i].r = cases[0].r // one row of activations
				q, sc, bi = append(q, cases[i].q...), append(sc, cases[i].sc...), append(bi, cases[i].bi...)
			}
			out := make([]float32, rows)
			var ok bool
			if bits == 4 {
				ok = dotQ4Q8SIMD(q, cases[0].r, sc, bi, group, out, vnni)
			} else {
				ok = dotQ8Q8SIMD(q, cases[0].r, sc, bi, group, out)
			}
			if !ok {
				t.Fatalf("q%d g%d: declined", bits, group)
			}
			for i, c := range cases {
				if one, _ := c.simd(); out[i] != one {
					t.Errorf("q%d g%d row %d: %v in a run of rows, %v alone", bits, group, i, out[i], one)
				}
			}
		}
	}
}

// FuzzQ8Kernels checks random rows of every shape the seeds pick.
func FuzzQ8Kernels(f *testing.F) {
	f.Add(uint64(1), uint8(0), uint8(1), false)
	f.Add(uint64(7), uint8(1), uint8(3), true)
	f.Add(uint64(9), uint8(5), uint8(13), false)
	f.Fuzz(func(t *testing.T, seed uint64, shape, groups uint8, unit bool) {
		bits := []int{4, 8}[shape%2]
		group := []int{32, 64, 128}[shape/2%3]
		c := newQ8Case(rand.New(rand.NewPCG(seed, 3)), bits, group, group*(1+int(groups)%40), unit)
		checkQ8Case(t, c, unit)
		c.vnni = vnniName() != ""
		checkQ8Case(t, c, unit)
	})
}

// TestQuantizeQ8 checks the rounding of activations: every value within
// half a step of its block's scale, integers in [-127, 127], and the
// layout a permutation; the bias sums are the rounded values' sums.
func TestQuantizeQ8(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bits := range []int{4, 8} {
		for _, cols := range []int{32, 64, 96, 896, 4864} {
			x := make([]float32, cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64()) * 3
			}
			x[cols/2] = 0 // a zero block would make d 0: check one below
			if cols >= 64 {
				clear(x[32:64])
			}
			r := q8Row{q: make([]int8, cols), d4: make([]float32, cols/8), xs: make([]float32, cols/32)}
			quantizeQ8(x, r, bits, 32)
			seen := make([]bool, cols)
			for i, v := range x {
				p := q8Layout(i, cols, bits)
				if seen[p] {
					t.Fatalf("q%d cols %d: position %d taken twice", bits, cols, p)
				}
				seen[p] = true
				d := r.d4[4*(i/32)]
				q := r.q[p]
				if q < -127 {
					t.Fatalf("q%d cols %d: value %d rounds to %d", bits, cols, i, q)
				}
				if e := math.Abs(float64(v) - float64(d)*float64(q)); e > float64(d)/2*(1+1e-6) {
					t.Fatalf("q%d cols %d: x[%d] = %v rounds to %v·%d, off by %v > d/2", bits, cols, i, v, d, q, e)
				}
			}
			for b := range cols / 32 {
				var s int
				for i := b * 32; i < (b+1)*32; i++ {
					s += int(r.q[q8Layout(i, cols, bits)])
				}
				if want := r.d4[4*b] * float32(s); r.xs[b] != want {
					t.Fatalf("q%d cols %d: block %d sum %v, want %v", bits, cols, b, r.xs[b], want)
				}
			}
		}
	}
}

// TestCvtHalfSIMD checks the SIMD conversion of every F16 and BF16 value
// against the scalar decoders.
func TestCvtHalfSIMD(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	for _, bf := range []bool{true, false} {
		dst := make([]float32, len(src))
		n := cvtHalfSIMD(dst, src, bf)
		for i := range n {
			want := f16(src[i])
			if bf {
				want = bf16(src[i])
			}
			if math.Float32bits(dst[i]) != math.Float32bits(want) && !(want != want && dst[i] != dst[i]) {
				t.Fatalf("bf16 %v: %#04x = %v, want %v", bf, src[i], dst[i], want)
			}
		}
		t.Logf("bf16 %v: %d values converted by SIMD", bf, n)
	}
}

// TestQ8KernelX4 checks the four-rows-of-x kernels (prefill: 4-bit
// weights in groups of 64 on AVX2 and AVX-512 VNNI, 8-bit ones in groups
// of 32 to 128 on AVX-512 VNNI, where the CPU has it) against the portable kernel row by row: exactly on unit scales,
// within float reassociation otherwise.
func TestQ8KernelX4(t *testing.T) {
	if simdName() == "" {
		t.Skip("no SIMD kernels on this CPU")
	}
	eachKernelSet(t, testQ8KernelX4)
}

func testQ8KernelX4(t *testing.T, vnni bool) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, shape := range []struct{ bits, group int }{{4, 64}, {8, 32}, {8, 64}, {8, 128}} {
		bits, group := shape.bits, shape.group
		x4 := dotQ4Q8x4SIMD
		if bits == 8 {
			if !vnni {
				continue // AVX2 has no four-row 8-bit kernel
			}
			x4 = dotQ8Q8x4SIMD
		}
		for _, unit := range []bool{true, false} {
			for _, groups := range []int{1, 2, 3, 14, 76} {
				const wrows = 3
				cols := group * groups
				what := fmt.Sprintf("q%d g%d, unit %v, %d groups", bits, group, unit, groups)
				// Four rows of x in consecutive buffers, as q8Buffers keeps them.
				xs := make([]q8Case, 4)
				xq, d4 := make([]int8, 0, 4*cols), make([]float32, 0, 4*cols/8)
				xs4 := make([]float32, 4*groups)
				for r := range xs {
					xs[r] = newQ8Case(rng, bits, group, cols, unit)
					xq, d4 = append(xq, xs[r].r.q...), append(d4, xs[r].r.d4...)
					for g := range groups {
						xs4[4*g+r] = xs[r].r.xs[g]
					}
				}
				for r := range xs {
					xs[r].r.q, xs[r].r.d4 = xq[r*cols:(r+1)*cols], d4[r*cols/8:(r+1)*cols/8]
				}
				// Weight rows: those of the first case's shape, three of them.
				var q []uint32
				var sc, bi []float32
				ws := make([]q8Case, wrows)
				for i := range ws {
					ws[i] = newQ8Case(rng, bits, group, cols, unit)
					ws[i].vnni = vnni
					q, sc, bi = append(q, ws[i].q...), append(sc, ws[i].sc...), append(bi, ws[i].bi...)
				}
				out := make([]float32, 4*wrows)
				if !x4(q, xs[0].r, xs4, sc, bi, group, out, vnni) {
					t.Fatalf("%s: declined", what)
				}
				for i, w := range ws {
					for r := range xs {
						c := w
						c.r = xs[r].r
						checkQ8Case(t, c, unit) // the portable kernel against the definition
						p := c.portable()
						if got := out[4*i+r]; unit && got != p || !unit && math.Abs(float64(got-p)) > 64*0x1p-24*c.terms() {
							t.Fatalf("%s: weight row %d · x row %d = %v, portable %v", what, i, r, got, p)
						}
					}
				}
			}
		}
	}
}
