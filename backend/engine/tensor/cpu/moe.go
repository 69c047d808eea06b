package cpu

import (
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Mixture-of-experts (issue 16): experts kept in their stored form, and an
// MoE that routes on the host and runs only the chosen experts' rows.

// expertMat is one expert's rows×cols matrix, read a row at a time.
type expertMat interface {
	rowInto(r int, dst []float32)
}

// experts is a stack of expert matrices viewing the stored bytes.
type experts struct {
	b             *Backend
	n, rows, cols int
	mats          []expertMat
	freed         bool
}

// Shape reports the number of experts and each one's rows and cols.
func (e *experts) Shape() (n, rows, cols int) { return e.n, e.rows, e.cols }

// Free drops the references to the stored bytes.
func (e *experts) Free() { *e = experts{b: e.b, freed: true} }

// LoadExperts loads a stack of dense, affine-quantized or mxfp4 expert
// matrices in place: each expert is a view of its part of the tensors.
func (b *Backend) LoadExperts(t tensor.ExpertTensors) (tensor.Experts, error) {
	n, rows, cols, err := tensor.CheckExperts(t)
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	e := &experts{b: b, n: n, rows: rows, cols: cols, mats: make([]expertMat, n)}
	switch t.Mode {
	case tensor.ExpertsDense:
		vals := newVec(t.W)
		for i := range n {
			e.mats[i] = &weight{b: b, rows: rows, cols: cols, vals: vals.sub(i*rows*cols, rows*cols)}
		}
	case tensor.ExpertsAffine:
		q, s, bi := u32s(t.W.Data), newVec(t.Scales), newVec(t.Biases)
		words, groups := cols*t.Bits/32, cols/t.GroupSize
		for i := range n {
			e.mats[i] = &weight{b: b, rows: rows, cols: cols, q: q[i*rows*words : (i+1)*rows*words],
				bits: t.Bits, group: t.GroupSize, words: words, groups: groups,
				scales: s.sub(i*rows*groups, rows*groups), biases: bi.sub(i*rows*groups, rows*groups)}
		}
	case tensor.ExpertsMXFP4:
		q := u32s(t.W.Data)
		words, groups := cols/8, cols/32
		for i := range n {
			e.mats[i] = &mxfp4{cols: cols, q: q[i*rows*words : (i+1)*rows*words], scales: t.Scales.Data[i*rows*groups : (i+1)*rows*groups]}
		}
	}
	return e, nil
}

// LoadMXFP4 loads an mxfp4 matrix in place.
func (b *Backend) LoadMXFP4(wt, scales modelfile.Tensor) (tensor.Weight, error) {
	rows, cols, err := tensor.CheckMXFP4(wt, scales)
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	return &weight{b: b, rows: rows, cols: cols, bits: 4, group: 32, words: cols / 8, groups: cols / 32,
		fp4: &mxfp4{cols: cols, q: u32s(wt.Data), scales: scales.Data}}, nil
}

// sub is the n elements of v from lo on.
func (v vec) sub(lo, n int) vec {
	if v.dt == modelfile.F32 {
		return vec{dt: v.dt, f: v.f[lo : lo+n : lo+n]}
	}
	return vec{dt: v.dt, h: v.h[lo : lo+n : lo+n]}
}

// mxfp4 is a matrix (an expert's, or a weight's from LoadMXFP4) in MLX's
// mxfp4 layout: 4-bit E2M1 codes, eight to a word (lowest bits first), and
// an E8M0 scale 2^(s−127) per 32 values.
type mxfp4 struct {
	cols   int
	q      []uint32
	scales []byte
}

// fp4 is the value of each E2M1 code.
var fp4 = [16]float32{0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6}

func (m *mxfp4) rowInto(r int, dst []float32) {
	groups := m.cols / 32
	q := m.q[r*m.cols/8 : (r+1)*m.cols/8]
	for g, sc := range m.scales[r*groups : (r+1)*groups] {
		s := float32(math.Ldexp(1, int(sc)-127))
		for i, w := range q[g*4 : g*4+4] {
			d := dst[g*32+i*8 : g*32+i*8+8 : g*32+i*8+8]
			for j := range d {
				d[j] = s * fp4[w>>(4*j)&15]
			}
		}
	}
}

func (b *Backend) expertsArg(x tensor.Experts) (*experts, bool) {
	e, ok := x.(*experts)
	if !ok || e.b != b || e.freed {
		b.fail("use of freed or foreign Experts")
		return nil, false
	}
	return e, true
}

// MoE routes each row of x to its top experts and sums their outputs.
func (b *Backend) MoE(xa, la tensor.Array, m tensor.MoE) tensor.Array {
	if b.err != nil {
		return b.poison
	}
	x, ok := b.arr(xa)
	logits, ok2 := b.arr(la)
	if !ok || !ok2 {
		return b.poison
	}
	if m.Gate == nil || m.Up == nil || m.Down == nil {
		return b.fail("MoE: missing expert weights")
	}
	gate, ok := b.expertsArg(m.Gate)
	up, ok2 := b.expertsArg(m.Up)
	down, ok3 := b.expertsArg(m.Down)
	if !ok || !ok2 || !ok3 {
		return b.poison
	}
	var biases [3]*weight
	for i, w := range []tensor.Weight{m.GateBias, m.UpBias, m.DownBias} {
		if w == nil {
			continue
		}
		if biases[i], ok = b.weightArg(w); !ok {
			return b.poison
		}
		if biases[i].quantized() {
			return b.fail("MoE: quantized expert bias")
		}
	}
	if err := tensor.CheckMoE(x.rows, x.cols, logits.rows, logits.cols, m); err != nil {
		return b.fail("%v", err)
	}
	out := b.arena.alloc(b, x.rows, x.cols)
	clear(out.data())
	j := &b.moe
	if !j.route(logits, m) {
		return b.fail("MoE: router logits that are not numbers")
	}
	for e := range gate.n {
		if len(j.tokens[e]) > 0 {
			j.expert(b, e, x, out, gate, up, down, biases, m)
		}
	}
	return out
}

// moeState is MoE's reusable storage: the routing of the current call and
// the chosen rows' intermediate values.
type moeState struct {
	tokens  [][]int     // per expert, the rows routed to it
	weights [][]float32 // per expert, those rows' routing weights
	probs   []float32
	chosen  []int     // the current row's experts
	xe      []float32 // the routed rows of x
	g, u, y []float32
	sums    []float32 // group sums of the rows being multiplied
	job     expertJob
}

// route fills tokens and weights from the router's logits. It reports
// false when a row has fewer than TopK experts to choose (NaN logits).
func (j *moeState) route(logits *array, m tensor.MoE) bool {
	n := logits.cols
	if len(j.tokens) < n {
		j.tokens, j.weights = make([][]int, n), make([][]float32, n)
	}
	for e := range n {
		j.tokens[e], j.weights[e] = j.tokens[e][:0], j.weights[e][:0]
	}
	j.probs = grow(j.probs, n)
	for r := range logits.rows {
		softmax(logits.row(r), j.probs)
		var sum float32
		j.chosen = j.chosen[:0]
		for range m.TopK {
			best := -1
			for e, p := range j.probs {
				if p >= 0 && (best < 0 || p > j.probs[best]) {
					best = e
				}
			}
			if best < 0 {
				return false
			}
			j.chosen = append(j.chosen, best)
			sum += j.probs[best]
			j.tokens[best] = append(j.tokens[best], r)
			j.weights[best] = append(j.weights[best], j.probs[best])
			j.probs[best] = -1 // taken
		}
		if m.Normalize {
			for _, e := range j.chosen {
				w := j.weights[e]
				w[len(w)-1] /= sum
			}
		}
	}
	return true
}

// expert runs expert e on its routed rows and adds the weighted results
// to out.
func (j *moeState) expert(b *Backend, e int, x, out *array, gate, up, down *experts, biases [3]*weight, m tensor.MoE) {
	rows := j.tokens[e]
	n, d, inter := len(rows), x.cols, gate.rows
	j.xe = grow(j.xe, n*d)
	for i, r := range rows {
		copy(j.xe[i*d:(i+1)*d], x.row(r))
	}
	j.g, j.u, j.y = grow(j.g, n*inter), grow(j.u, n*inter), grow(j.y, n*d)
	b.project(gate.mats[e], j.xe, n, d, inter, j.g, biases[0], e)
	b.project(up.mats[e], j.xe, n, d, inter, j.u, biases[1], e)
	activate(j.g, j.u, m)
	b.project(down.mats[e], j.g, n, inter, d, j.y, biases[2], e)
	for i, r := range rows {
		w, o, y := j.weights[e][i], out.row(r), j.y[i*d:(i+1)*d]
		for c := range o {
			o[c] += w * y[c]
		}
	}
}

// activate writes act(g, u) into g.
func activate(g, u []float32, m tensor.MoE) {
	if m.Act == tensor.SwiGLU {
		for i, v := range g {
			g[i] = v / (1 + float32(math.Exp(float64(-v)))) * u[i]
		}
		return
	}
	for i, v := range g {
		v = min(v, m.Limit)
		up := max(min(u[i], m.Limit), -m.Limit)
		g[i] = v / (1 + float32(math.Exp(float64(-m.Alpha*v)))) * (up + 1)
	}
}

// project computes out = x·matᵀ (+ row e of bias) for n rows of k values,
// in parallel over the matrix's rows. Below blockRows rows a stored
// (dense or affine) matrix is multiplied in place as MatMul's decode
// kernels do; otherwise each matrix row is converted once and multiplied
// with every x row.
func (b *Backend) project(mat expertMat, x []float32, n, k, rows int, out []float32, bias *weight, e int) {
	j := &b.moe.job
	*j = expertJob{b: b, mat: mat, x: x, n: n, k: k, rows: rows, out: out}
	if w, ok := mat.(*weight); ok && n < blockRows && w.fp4 == nil {
		j.fused = w
		if w.quantized() {
			j.sums = b.moe.groupSums(x, n, k, w.group)
		}
	}
	b.scratchFor(blockRows * k)
	grain := max(1, 4096/max(k, 1)) // about 4096 weights a chunk
	if j.fused == nil {
		grain = blockRows * max(1, 1024/max(k, 1)) // whole blocks of rows
	}
	b.pool.parallel(j, rows, grain)
	*j = expertJob{}
	if bias != nil {
		bv := bias.vals
		for i := range n {
			o := out[i*rows : (i+1)*rows]
			for c := range o {
				o[c] += bv.at(e*rows + c)
			}
		}
	}
}

// groupSums is, for each of the n rows of x, the sum of each group of its
// values (the bias term of a quantized dot product).
func (st *moeState) groupSums(x []float32, n, k, group int) []float32 {
	groups := k / group
	st.sums = grow(st.sums, n*groups)
	for i := range n * groups {
		var s float32
		for _, v := range x[i*group : (i+1)*group] {
			s += v
		}
		st.sums[i] = s
	}
	return st.sums
}

// expertJob is x·matᵀ over a range of the matrix's rows.
type expertJob struct {
	b          *Backend
	mat        expertMat
	fused      *weight   // set: multiply in place (few rows)
	sums       []float32 // fused quantized: x's group sums
	x, out     []float32
	n, k, rows int
}

func (j *expertJob) run(lo, hi, worker int) {
	buf := j.b.scratch[worker][:j.k] // fused: the row's converted scales and biases
	if w := j.fused; w != nil {
		for o := lo; o < hi; o++ {
			for i := range j.n {
				xr := j.x[i*j.k : (i+1)*j.k]
				if w.quantized() {
					j.out[i*j.rows+o] = w.dotQuant(o, xr, j.sums[i*w.groups:(i+1)*w.groups], buf)
				} else {
					j.out[i*j.rows+o] = w.dotDense(o, xr, false)
				}
			}
		}
		return
	}
	// Four matrix rows at a time, converted once, against every x row.
	k := j.k
	buf = j.b.scratch[worker][:blockRows*k]
	for o := lo; o < hi; o += blockRows {
		nr := min(blockRows, hi-o)
		for i := range nr {
			j.mat.rowInto(o+i, buf[i*k:(i+1)*k])
		}
		clear(buf[nr*k:])
		w0, w1, w2, w3 := buf[:k], buf[k:2*k], buf[2*k:3*k], buf[3*k:]
		for i := range j.n {
			s := dot4(j.x[i*k:(i+1)*k], w0, w1, w2, w3)
			copy(j.out[i*j.rows+o:i*j.rows+o+nr], s[:nr])
		}
	}
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
