package cpu

import (
	"cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Quantized weights on 8-bit activations (q8.go) take fusedQ8 at any
// number of rows: integer kernels on the stored rows, a grain of weight
// rows at a time for every row of x. Otherwise, below blockRows rows of x,
// MatMul computes each output with a fused kernel that reads the stored
// weight row once per x row (decode); from blockRows on, it converts
// blocks of four weight rows into scratch once and multiplies them with
// every row of x (prefill).
const blockRows = 4

// matmulJob is x·wᵀ over a range of weight rows.
type matmulJob struct {
	w     *weight
	x     *array
	out   *array
	sums  []float32 // quantized decode: per x row, the sum of each group of x
	q8    []q8Row   // products on 8-bit activations: x's rows rounded
	xs4   []float32 // and their activation sums, four rows side by side
	simd  bool      // use the SIMD kernels
	vnni  bool      // and the VPDPBUSD ones where the CPU has them
	grain int       // weight rows per chunk of fusedQ8
}

// q8Grain is the number of weight rows a worker takes at a time in a
// product on 8-bit activations: it converts their scales and biases in
// one pass, and hands them to one kernel call that every row (or four)
// of x then passes through, the rows staying in the core's second-level
// cache (64 KiB of them, at least 4 and at most 128 rows). Each call costs
// a fixed overhead; with grains of at most 16 rows (16 KiB, for the
// first-level cache) it cost prefill 10% and decode 5% against these
// (BenchmarkQwen25_05B, same machine, back to back).
func (w *weight) q8Grain() int { return max(4, min(128, 65536/(4*w.words))) }

// MatMul is x·wᵀ.
func (b *Backend) MatMul(xa tensor.Array, wt tensor.Weight) tensor.Array {
	if b.err != nil {
		return b.poison
	}
	x, ok := b.arr(xa)
	w, ok2 := b.weightArg(wt)
	if !ok || !ok2 {
		return b.poison
	}
	if x.cols != w.cols {
		return b.fail("MatMul: x is %d×%d, weight is %d×%d", x.rows, x.cols, w.rows, w.cols)
	}
	if b.onQ8(x, w, w) {
		b.multi.ws[0] = w
		b.productsQ8(x, b.multi.ws[:1], b.multi.out[:1])
		out := b.multi.out[0]
		b.multi.ws[0], b.multi.out[0] = nil, nil
		return out
	}
	out := b.arena.alloc(b, x.rows, w.rows)
	b.mm = matmulJob{w: w, x: x, out: out, simd: !b.portable}
	if x.rows < blockRows && w.fp4 == nil { // mxfp4 rows are converted (blocked) at any size
		if w.quantized() {
			b.mm.sums = b.groupSums(x, w.group)
			b.scratchFor(2 * w.groups)
		}
		b.pool.parallel(&b.mm, w.rows, 16)
	} else {
		b.scratchFor(blockRows * w.cols)
		b.pool.parallel(&b.mm, w.rows, 4*blockRows)
	}
	b.mm = matmulJob{}
	return out
}

// maxFused is the most products MatMuls computes as one job (q, k and v).
const maxFused = 3

// multiMatmul is the state of a dispatch of several products on 8-bit
// activations (productsQ8): one matmulJob per weight, their rows laid end
// to end in the pool's index range.
type multiMatmul struct {
	parts [maxFused]matmulJob
	ends  [maxFused]int // the index after each part's last row
	n     int
	ws    [maxFused]*weight // argument buffers, so that a call allocates nothing
	out   [maxFused]*array
}

func (j *multiMatmul) run(lo, hi, worker int) {
	start := 0
	for i := range j.n {
		if a, e := max(lo, start), min(hi, j.ends[i]); a < e {
			p := &j.parts[i]
			p.fusedQ8(a-start, e-start, p.x.b.scratch[worker])
		}
		start = j.ends[i]
	}
}

// MatMuls computes x·ws[i]ᵀ into out[i] for each i (tensor.MultiMatMul).
// Products on 8-bit activations with weights of one quantization run as
// one job: x is rounded once, and the workers go through the rows of
// every weight without waiting for each other between products. Others
// are MatMul one at a time.
func (b *Backend) MatMuls(xa tensor.Array, ws []tensor.Weight, out []tensor.Array) {
	if len(out) != len(ws) {
		b.fail("MatMuls: %d outputs for %d weights", len(out), len(ws))
	}
	if x, ok := b.fusable(xa, ws); ok {
		n := len(ws)
		b.productsQ8(x, b.multi.ws[:n], b.multi.out[:n])
		for i := range out {
			out[i] = b.multi.out[i]
		}
		clear(b.multi.ws[:])
		clear(b.multi.out[:])
		return
	}
	for i := range out {
		out[i] = b.poison
		if i < len(ws) {
			out[i] = b.MatMul(xa, ws[i]) // the poison too once an error is recorded
		}
	}
}

// fusable reports whether the products of x with ws can run as one job on
// 8-bit activations, with the weights in b.multi.ws.
func (b *Backend) fusable(xa tensor.Array, ws []tensor.Weight) (*array, bool) {
	if b.err != nil || len(ws) == 0 || len(ws) > maxFused {
		return nil, false
	}
	x, ok := b.arr(xa)
	if !ok {
		return nil, false
	}
	for i, wt := range ws {
		w, ok := b.weightArg(wt)
		if !ok || !b.onQ8(x, w, cmp.Or(b.multi.ws[0], w)) {
			clear(b.multi.ws[:])
			return nil, false
		}
		b.multi.ws[i] = w
	}
	return x, true
}

// onQ8 reports whether x·wᵀ is computed on 8-bit activations, the same way
// as a product with like (w itself, or the first weight of a MatMuls): a
// quantized (not mxfp4) weight of x's width, of like's bits and group.
func (b *Backend) onQ8(x *array, w, like *weight) bool {
	return x.cols == w.cols && w.quantized() && w.fp4 == nil && !b.exact && w.cols%q8Block == 0 &&
		w.bits == like.bits && w.group == like.group
}

// productsQ8 sets out[i] to x·ws[i]ᵀ on x rounded to 8 bits, in one
// dispatch; every weight passes onQ8 with ws[0].
func (b *Backend) productsQ8(x *array, ws []*weight, out []*array) {
	j := &b.multi
	w0 := ws[0]
	q8 := b.q8.quantize(b.pool, x, w0.bits, w0.group)
	grain := w0.q8Grain() // the same for every weight: one width, bits and group
	b.scratchFor(2*grain*w0.groups + 4*grain)
	total := 0
	for i, w := range ws {
		out[i] = b.arena.alloc(b, x.rows, w.rows)
		j.parts[i] = matmulJob{w: w, x: x, out: out[i], simd: !b.portable, vnni: b.vnni, q8: q8, xs4: b.q8.xs4, grain: grain}
		total += w.rows
		j.ends[i] = total
	}
	j.n = len(ws)
	// Decode streams each weight once: workers claim long runs of rows
	// (about eight per worker per dispatch) so that each reads long
	// sequential stretches the hardware prefetcher follows, converting
	// scales grain rows at a time within them.
	claim := grain
	if x.rows < blockRows {
		claim = max(claim, total/(8*b.threads)/grain*grain)
	}
	b.pool.parallel(j, total, claim)
	j.parts = [maxFused]matmulJob{}
	j.n = 0
}

// groupSums returns, for each row of x, the sum of each group of x's
// values: the bias term of a quantized group's dot product.
func (b *Backend) groupSums(x *array, group int) []float32 {
	groups := x.cols / group
	sums := b.sumsBuf(x.rows * groups)
	for r := range x.rows {
		xr := x.row(r)
		for g := range groups {
			var s float32
			for _, v := range xr[g*group : (g+1)*group] {
				s += v
			}
			sums[r*groups+g] = s
		}
	}
	return sums
}

// sumsBuf is a reusable buffer of n values for groupSums.
func (b *Backend) sumsBuf(n int) []float32 {
	if cap(b.sums) < n {
		b.sums = make([]float32, n)
	}
	return b.sums[:n]
}

func (j *matmulJob) run(lo, hi, worker int) {
	if j.q8 != nil {
		j.fusedQ8(lo, hi, j.x.b.scratch[worker])
		return
	}
	if j.x.rows < blockRows && j.w.fp4 == nil {
		j.fused(lo, hi, j.x.b.scratch[worker])
		return
	}
	j.blocked(lo, hi, j.x.b.scratch[worker])
}

// fused computes outputs lo..hi-1 of every x row straight from the stored
// weight rows.
func (j *matmulJob) fused(lo, hi int, scratch []float32) {
	w, x, out := j.w, j.x, j.out.data()
	m := w.rows
	for o := lo; o < hi; o++ {
		for r := range x.rows {
			var s float32
			if w.quantized() {
				s = w.dotQuant(o, x.row(r), j.sums[r*w.groups:(r+1)*w.groups], scratch)
			} else {
				s = w.dotDense(o, x.row(r), j.simd)
			}
			out[r*m+o] = s
		}
	}
}

// blocked converts weight rows lo..hi-1 four at a time into scratch and
// multiplies each block with every row of x.
func (j *matmulJob) blocked(lo, hi int, scratch []float32) {
	w, x, out := j.w, j.x, j.out.data()
	k, m := w.cols, w.rows
	for o := lo; o < hi; o += blockRows {
		n := min(blockRows, hi-o)
		for i := range n {
			w.rowInto(o+i, scratch[i*k:(i+1)*k])
		}
		if n < blockRows {
			clear(scratch[n*k : blockRows*k])
		}
		w0, w1, w2, w3 := scratch[:k], scratch[k:2*k], scratch[2*k:3*k], scratch[3*k:4*k]
		for r := range x.rows {
			s, ok := [4]float32{}, false
			if j.simd {
				s, ok = dot4SIMD(x.row(r), scratch[:blockRows*k], k)
			}
			if !ok {
				s = dot4(x.row(r), w0, w1, w2, w3)
			}
			copy(out[r*m+o:r*m+o+n], s[:n])
		}
	}
}

// dotDense is the dot product of dense weight row o with x, with SIMD
// when simd is set and the CPU has it.
func (w *weight) dotDense(o int, x []float32, simd bool) float32 {
	k := w.cols
	v := w.vals
	if simd {
		var s float32
		ok := false
		switch v.dt {
		case modelfile.F16, modelfile.BF16:
			s, ok = dotHalfSIMD(v.h[o*k:(o+1)*k], x, v.dt == modelfile.BF16)
		default:
			s, ok = dotF32SIMD(v.f[o*k:(o+1)*k], x)
		}
		if ok {
			return s
		}
	}
	switch v.dt {
	case modelfile.F16:
		return dotF16(v.h[o*k:(o+1)*k], x)
	case modelfile.BF16:
		return dotBF16(v.h[o*k:(o+1)*k], x)
	}
	return dotF32(v.f[o*k:(o+1)*k], x)
}

// dotQuant is the dot product of quantized weight row o with x, given the
// group sums of x: Σ_g scale_g·Σ q·x + bias_g·Σ x. scratch holds the
// row's scales and biases converted to float32.
func (w *weight) dotQuant(o int, x, sums, scratch []float32) float32 {
	q := w.q[o*w.words : (o+1)*w.words]
	sc, bi := scratch[:w.groups], scratch[w.groups:2*w.groups]
	w.scales.into(sc, o*w.groups)
	w.biases.into(bi, o*w.groups)
	if w.bits == 4 {
		return dotQ4(q, sc, bi, x, sums, w.group)
	}
	return dotQ8(q, sc, bi, x, sums, w.group)
}

// fusedQ8 computes outputs lo..hi-1 of every x row from the stored
// weight rows and x rounded to 8 bits, j.grain rows at a time (the pool
// hands out larger ranges when it runs a job on the caller alone). The
// weight rows of a grain stay in cache while every x row passes.
func (j *matmulJob) fusedQ8(lo, hi int, scratch []float32) {
	for ; hi-lo > j.grain; lo += j.grain {
		j.fusedQ8(lo, lo+j.grain, scratch)
	}
	w, out := j.w, j.out.data()
	m, g := w.rows, w.groups
	n := (hi - lo) * g
	sc := w.scales.convert(scratch[:n], lo*g, j.simd)
	bi := w.biases.convert(scratch[n:2*n], lo*g, j.simd)
	q := w.q[lo*w.words : hi*w.words]
	r := 0
	if j.simd && (w.bits == 4 && w.group == 64 || w.bits == 8 && j.vnni) {
		// Four rows of x at a time (prefill): each weight chunk is
		// loaded (and unpacked) once for the four.
		x4 := dotQ4Q8x4SIMD
		if w.bits == 8 {
			x4 = dotQ8Q8x4SIMD
		}
		tmp := scratch[2*n : 2*n+4*(hi-lo)]
		for ; r+4 <= len(j.q8); r += 4 {
			if !x4(q, j.q8[r], j.xs4[r/4*4*g:(r/4+1)*4*g], sc, bi, w.group, tmp, j.vnni) {
				break
			}
			for i := range hi - lo {
				t := tmp[4*i : 4*i+4 : 4*i+4]
				out[r*m+lo+i], out[(r+1)*m+lo+i], out[(r+2)*m+lo+i], out[(r+3)*m+lo+i] = t[0], t[1], t[2], t[3]
			}
		}
	}
	for ; r < len(j.q8); r++ {
		w.dotQ8Rows(q, j.q8[r], sc, bi, out[r*m+lo:r*m+hi], j.simd, j.vnni)
	}
}

// dotQ8Rows writes into out the products of len(out) consecutive
// quantized weight rows (words q, converted scales and biases) with a row
// of x rounded to 8 bits.
func (w *weight) dotQ8Rows(q []uint32, x q8Row, sc, bi, out []float32, simd, vnni bool) {
	g := w.groups
	if w.bits == 4 {
		if simd && dotQ4Q8SIMD(q, x, sc, bi, w.group, out, vnni) {
			return
		}
		for i := range out {
			out[i] = dotQ4Q8Go(q[i*w.words:(i+1)*w.words], x, sc[i*g:(i+1)*g], bi[i*g:(i+1)*g], w.group)
		}
		return
	}
	if simd && dotQ8Q8SIMD(q, x, sc, bi, w.group, out) {
		return
	}
	for i := range out {
		out[i] = dotQ8Q8Go(q[i*w.words:(i+1)*w.words], x, sc[i*g:(i+1)*g], bi[i*g:(i+1)*g], w.group)
	}
}
