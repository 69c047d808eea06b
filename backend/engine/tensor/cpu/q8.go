package cpu

import "math"

// Quantized matrix products round their activations to 8 bits, as
// llama.cpp's q8_0 does: each block of q8Block values of a row of x
// becomes a scale d = max|x|/127 and 32 integers round(x/d) in
// [-127, 127]. The product of a row of 4- or 8-bit weights (MLX affine
// groups: value = s·q + bias) with that row is then
//
//	Σ_g s_g·Σ_{b∈g} d_b·Σ_{i∈b} q_i·x_i  +  bias_g·Σ_{b∈g} d_b·Σ_{i∈b} x_i
//
// where the inner sums are exact integer dot products: the work of the
// kernel is integer multiply-adds (VPMADDUBSW on AVX2) instead of float
// conversions and multiplies. The result is the exact product of the
// weights with x rounded to 8 bits per block: a relative error of at most
// 1/254 of each block's largest |x| per value (see q8Bound), which is why
// it is a switch (Backend.SetExactActivations) and the float32 path stays
// as the reference the conformance suites check exactly.
const q8Block = 32

// q8Layout is where the 8-bit value of x's element i goes in a quantized
// row, for weights of bits bits. 8-bit weights take x in order. 4-bit
// weights pack value 2t in the low and 2t+1 in the high nibble of byte t,
// so a SIMD kernel that splits the nibbles of 32 bytes (64 values) gets
// the even values of each 32-value block in one register and the odd
// values in another: each 64 values of x are stored as [even values of
// block 0 | of block 1 | odd values of block 0 | of block 1], 16 each; a
// last block of 32 that does not fill 64 is stored [even | odd].
func q8Layout(i, cols, bits int) int {
	if bits != 4 {
		return i
	}
	base := i / 64 * 64
	t := i % 32
	if base+64 > cols { // a lone last block
		return base + t%2*16 + t/2
	}
	b := i % 64 / 32
	return base + t%2*32 + b*16 + t/2
}

// q8Row is one row of x rounded to 8 bits for weights of a given bit
// width and group size.
type q8Row struct {
	q  []int8    // cols values in q8Layout
	d4 []float32 // per block, its scale d four times (a SIMD kernel multiplies four lanes per block at once)
	xs []float32 // per weight group, Σ_{b∈g} d_b·Σ q_i: the bias term
}

// quantizeQ8 rounds x (len a multiple of q8Block) into r's buffers, laid
// out for bits-wide weights in groups of group values.
func quantizeQ8(x []float32, r q8Row, bits, group int) {
	cols := len(x)
	per := group / q8Block
	clear(r.xs[:cols/group])
	for b := range cols / q8Block {
		blk := x[b*q8Block : (b+1)*q8Block : (b+1)*q8Block]
		var amax float32
		for _, v := range blk {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		var sum int32
		if bits == 4 {
			// Even values to one run of 16, odd ones to another (q8Layout).
			even, odd := b/2*64+b%2*16, b/2*64+32+b%2*16
			if b/2*64+64 > cols {
				even, odd = b/2*64, b/2*64+16
			}
			qe, qo := r.q[even:even+16:even+16], r.q[odd:odd+16:odd+16]
			for t := range 16 {
				e, o := round8(blk[2*t]*id), round8(blk[2*t+1]*id)
				qe[t], qo[t] = int8(e), int8(o)
				sum += e + o
			}
		} else {
			q := r.q[b*q8Block : (b+1)*q8Block : (b+1)*q8Block]
			for t, v := range blk {
				e := round8(v * id)
				q[t] = int8(e)
				sum += e
			}
		}
		d4 := r.d4[4*b : 4*b+4 : 4*b+4]
		d4[0], d4[1], d4[2], d4[3] = d, d, d, d
		r.xs[b/per] += d * float32(sum)
	}
}

// round8 rounds v (|v| ≤ 127 up to rounding) to the nearest integer in
// [-127, 127], ties to even.
func round8(v float32) int32 {
	return min(max(int32(math.RoundToEven(float64(v))), -127), 127)
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// q8Bound is the largest |error| of a quantized row's product with
// rounded activations against the product with x itself: each value of
// x moves by at most d_b/2 (half a step of its block), so the product
// moves by at most Σ_b d_b/2·Σ_{i∈b} |w_i|. w is the dequantized row.
func q8Bound(x []float32, w []float64) float64 {
	var bound float64
	for b := 0; b < len(x); b += q8Block {
		var amax float32
		var wsum float64
		for i := b; i < b+q8Block; i++ {
			amax = max(amax, abs32(x[i]))
			wsum += math.Abs(w[i])
		}
		bound += float64(amax) / 127 / 2 * wsum
	}
	return bound
}

// dotQ4Q8Go is the portable product of a row of 4-bit weights (words q,
// float32 scales and biases per group) with a quantized row of x: the
// oracle the SIMD kernels are tested against. The integer sums are
// exact; the float combination follows the formula above in order.
func dotQ4Q8Go(q []uint32, r q8Row, sc, bi []float32, group int) float32 {
	cols := 8 * len(q)
	per := group / q8Block
	var acc float32
	for g := range sc {
		var gs float32
		for b := g * per; b < (g+1)*per; b++ {
			gs += r.d4[4*b] * float32(q4Block(q[4*b:4*b+4], r.q, b, cols))
		}
		acc += sc[g]*gs + bi[g]*r.xs[g]
	}
	return acc
}

// q4Block is the exact integer dot product of block b of a 4-bit row
// (4 words) with the block's 8-bit activations in q8Layout.
func q4Block(q []uint32, xq []int8, b, cols int) int32 {
	base := b / 2 * 64
	even, odd := base+b%2*16, base+32+b%2*16
	if base+64 > cols {
		even, odd = base, base+16
	}
	xe, xo := xq[even:even+16:even+16], xq[odd:odd+16:odd+16]
	var s int32
	for k, w := range q[:4] {
		e, o := xe[4*k:4*k+4:4*k+4], xo[4*k:4*k+4:4*k+4]
		s += int32(w&15)*int32(e[0]) + int32(w>>4&15)*int32(o[0]) +
			int32(w>>8&15)*int32(e[1]) + int32(w>>12&15)*int32(o[1]) +
			int32(w>>16&15)*int32(e[2]) + int32(w>>20&15)*int32(o[2]) +
			int32(w>>24&15)*int32(e[3]) + int32(w>>28)*int32(o[3])
	}
	return s
}

// dotQ8Q8Go is dotQ4Q8Go for 8-bit weights (4 per word, x in order).
func dotQ8Q8Go(q []uint32, r q8Row, sc, bi []float32, group int) float32 {
	per := group / q8Block
	var acc float32
	for g := range sc {
		var gs float32
		for b := g * per; b < (g+1)*per; b++ {
			gs += r.d4[4*b] * float32(q8BlockDot(q[8*b:8*b+8], r.q[32*b:32*b+32]))
		}
		acc += sc[g]*gs + bi[g]*r.xs[g]
	}
	return acc
}

// q8BlockDot is the exact integer dot product of 32 8-bit weights (8
// words) with 32 8-bit activations.
func q8BlockDot(q []uint32, xq []int8) int32 {
	var s int32
	for k, w := range q[:8] {
		x := xq[4*k : 4*k+4 : 4*k+4]
		s += int32(w&255)*int32(x[0]) + int32(w>>8&255)*int32(x[1]) +
			int32(w>>16&255)*int32(x[2]) + int32(w>>24)*int32(x[3])
	}
	return s
}

// q8Buffers hold the rounded rows of a product's x, reused from product
// to product. The rows of the last x rounded are kept for the Run: the
// products that share an input (q, k and v; gate and up) round it once.
type q8Buffers struct {
	rows []q8Row
	q    []int8
	d4   []float32
	xs   []float32
	xs4  []float32 // per four rows, per group, the four rows' xs side by side (for four-row kernels)

	src         *array // the x of rows, while it is live in this Run
	bits, group int
	job         q8Job
}

// quantize rounds x's rows for bits-wide weights in groups of group,
// splitting many rows over the pool.
func (qb *q8Buffers) quantize(p *pool, x *array, bits, group int) []q8Row {
	if qb.src == x && x.live && qb.bits == bits && qb.group == group {
		return qb.rows
	}
	cols := x.cols
	if n := x.rows * cols; cap(qb.q) < n {
		qb.q, qb.d4, qb.xs = make([]int8, n), make([]float32, n/8), make([]float32, n/q8Block)
	}
	if cap(qb.rows) < x.rows {
		qb.rows = make([]q8Row, x.rows)
	}
	qb.rows = qb.rows[:x.rows]
	for r := range x.rows {
		qb.rows[r] = q8Row{
			q:  qb.q[r*cols : (r+1)*cols],
			d4: qb.d4[r*cols/8 : (r+1)*cols/8],
			xs: qb.xs[r*cols/group : (r+1)*cols/group],
		}
	}
	qb.job = q8Job{x: x, rows: qb.rows, bits: bits, group: group}
	p.parallel(&qb.job, x.rows, 8)
	qb.job = q8Job{}
	groups := cols / group
	if n := x.rows / 4 * 4 * groups; cap(qb.xs4) < n {
		qb.xs4 = make([]float32, n)
	}
	for r := range x.rows / 4 * 4 {
		for g, v := range qb.rows[r].xs {
			qb.xs4[(r/4*groups+g)*4+r%4] = v
		}
	}
	qb.src, qb.bits, qb.group = x, bits, group
	return qb.rows
}

// forget drops the kept rows (at the end of a Run, when arrays are
// recycled).
func (qb *q8Buffers) forget() { qb.src = nil }

// q8Job rounds rows of x.
type q8Job struct {
	x           *array
	rows        []q8Row
	bits, group int
}

func (j *q8Job) run(lo, hi, _ int) {
	for r := lo; r < hi; r++ {
		quantizeQ8(j.x.row(r), j.rows[r], j.bits, j.group)
	}
}
