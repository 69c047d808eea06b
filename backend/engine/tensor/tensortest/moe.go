package tensortest

import (
	"math"
	"slices"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Mixture-of-experts operations (issue 16). An MoE sums a few expert
// MLPs of float32 products; it is compared with a float64 reference to
// moeRel of the output's largest magnitude (plus that much absolutely).
const moeRel = 2e-5

// moeCase is one MoE configuration under test.
type moeCase struct {
	name              string
	experts, topK     int
	hidden, inter     int
	format            string // "f32", "bf16", "q4g32", "q8g64", "mxfp4"
	normalize, gptOSS bool
}

var moeCases = []moeCase{
	{name: "dense_f32_normalized", experts: 6, topK: 2, hidden: 64, inter: 32, format: "f32", normalize: true},
	{name: "dense_bf16", experts: 4, topK: 3, hidden: 32, inter: 64, format: "bf16"},
	{name: "affine_q4g32_normalized", experts: 8, topK: 2, hidden: 64, inter: 64, format: "q4g32", normalize: true},
	{name: "affine_q8g64", experts: 5, topK: 1, hidden: 128, inter: 64, format: "q8g64"},
	{name: "mxfp4_clamped_swiglu_biases", experts: 8, topK: 4, hidden: 64, inter: 96, format: "mxfp4", normalize: true, gptOSS: true},
}

// moeStack is one projection's experts: the tensors and their values.
type moeStack struct {
	t      tensor.ExpertTensors
	values []float64
}

// makeStack makes n random rows×cols experts in the case's format.
func (c moeCase) makeStack(rng interface{ Float64() float64 }, name string, n, rows, cols int, amp float64) moeStack {
	v := make([]float32, n*rows*cols)
	for i := range v {
		v[i] = float32((2*rng.Float64() - 1) * amp * math.Sqrt(3/float64(cols)))
	}
	switch c.format {
	case "f32", "bf16":
		dt := map[string]modelfile.DType{"f32": modelfile.F32, "bf16": modelfile.BF16}[c.format]
		t := Dense(name+".weight", dt, v, n, rows, cols)
		return moeStack{tensor.ExpertTensors{W: t}, Decode(t)}
	case "mxfp4":
		m := QuantizeMXFP4(name+".weight", v, n, rows, cols)
		return moeStack{tensor.ExpertTensors{W: m.W, Scales: m.Scales, Mode: tensor.ExpertsMXFP4, GroupSize: 32, Bits: 4}, m.Values}
	}
	bits, group := 4, 32
	if c.format == "q8g64" {
		bits, group = 8, 64
	}
	q := Quantize(name+".weight", v, n*rows, cols, group, bits, modelfile.F16)
	q.W.Shape = []int{n, rows, q.W.Shape[1]}
	q.Scales.Shape = []int{n, rows, q.Scales.Shape[1]}
	q.Biases.Shape = []int{n, rows, q.Biases.Shape[1]}
	return moeStack{tensor.ExpertTensors{W: q.W, Scales: q.Scales, Biases: q.Biases, Mode: tensor.ExpertsAffine, GroupSize: group, Bits: bits}, q.Values}
}

// moeReference is the routed experts' weighted sum in float64.
func moeReference(c moeCase, x, logits []float64, n int, gate, up, down []float64, biases [3][]float64) []float64 {
	d, inter := c.hidden, c.inter
	out := make([]float64, n*d)
	for r := range n {
		probs := Softmax(logits[r*c.experts : (r+1)*c.experts])
		order := make([]int, c.experts)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmpDesc(probs[a], probs[b]) })
		chosen := order[:c.topK]
		var sum float64
		for _, e := range chosen {
			sum += probs[e]
		}
		for _, e := range chosen {
			w := probs[e]
			if c.normalize {
				w /= sum
			}
			xr := x[r*d : (r+1)*d]
			g, _ := MatMulT(xr, gate[e*inter*d:(e+1)*inter*d], 1, d, inter)
			u, _ := MatMulT(xr, up[e*inter*d:(e+1)*inter*d], 1, d, inter)
			h := make([]float64, inter)
			for i := range h {
				gi, ui := g[i]+biasAt(biases[0], e*inter+i), u[i]+biasAt(biases[1], e*inter+i)
				if c.gptOSS {
					gi = math.Min(gi, 7)
					ui = math.Max(math.Min(ui, 7), -7)
					h[i] = gi / (1 + math.Exp(-1.702*gi)) * (ui + 1)
				} else {
					h[i] = SiLU(gi) * ui
				}
			}
			y, _ := MatMulT(h, down[e*d*inter:(e+1)*d*inter], 1, inter, d)
			for i := range y {
				out[r*d+i] += w * (y[i] + biasAt(biases[2], e*d+i))
			}
		}
	}
	return out
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

func biasAt(b []float64, i int) float64 {
	if b == nil {
		return 0
	}
	return b[i]
}

// testMoE runs every moeCase for one-row (decode) and many-row inputs.
func testMoE(t *testing.T, b tensor.Backend) {
	for ci, c := range moeCases {
		rng := NewRand(uint64(40 + ci))
		amp := 1.0
		if c.gptOSS {
			amp = 6 // so that the clamps at ±7 bite
		}
		gate := c.makeStack(rng, "gate_proj", c.experts, c.inter, c.hidden, amp)
		up := c.makeStack(rng, "up_proj", c.experts, c.inter, c.hidden, amp)
		down := c.makeStack(rng, "down_proj", c.experts, c.hidden, c.inter, 1)
		var biasT [3]modelfile.Tensor
		var biasV [3][]float64
		if c.gptOSS {
			for i, rows := range []int{c.inter, c.inter, c.hidden} {
				biasT[i] = Dense("bias", modelfile.BF16, Random(rng, c.experts*rows, 1), c.experts, rows)
				biasV[i] = Decode(biasT[i])
			}
		}
		op := tensor.MoE{TopK: c.topK, Normalize: c.normalize}
		if c.gptOSS {
			op.Act, op.Alpha, op.Limit = tensor.ClampedSwiGLU, 1.702, 7
		}
		var owned []tensor.Resource
		run(t, b, func() error {
			for i, s := range []*moeStack{&gate, &up, &down} {
				e, err := b.LoadExperts(s.t)
				if err != nil {
					return err
				}
				owned = append(owned, e)
				if n, _, _ := e.Shape(); n != c.experts {
					t.Errorf("%s: %d experts, want %d", c.name, n, c.experts)
				}
				*[]*tensor.Experts{&op.Gate, &op.Up, &op.Down}[i] = e
				if c.gptOSS {
					w, err := b.LoadDense(biasT[i])
					if err != nil {
						return err
					}
					owned = append(owned, w)
					*[]*tensor.Weight{&op.GateBias, &op.UpBias, &op.DownBias}[i] = w
				}
			}
			return nil
		})
		// 33 rows route at least 64 (row, expert) pairs: MLX sorts those.
		for _, n := range []int{1, 7, 33} {
			x, logits := Random(rng, n*c.hidden, 1), Random(rng, n*c.experts, 2)
			want := moeReference(c, F64(x), F64(logits), n, gate.values, up.values, down.values, biasV)
			var got []float32
			run(t, b, func() (err error) {
				got, err = read(b, b.MoE(b.FromFloat32(n, c.hidden, x), b.FromFloat32(n, c.experts, logits), op))
				return err
			})
			scale := 1.0
			for _, w := range want {
				scale = max(scale, math.Abs(w))
			}
			within(t, name("%s, %d rows", c.name, n), got, want, nil, 0, moeRel*scale)
		}
		free(t, b, owned...)
	}
}

// testMoEErrors checks that bad expert tensors are refused and bad MoE
// calls recorded.
func testMoEErrors(t *testing.T, b tensor.Backend) {
	rng := NewRand(50)
	c := moeCase{experts: 4, topK: 2, hidden: 32, inter: 32, format: "mxfp4"}
	good := c.makeStack(rng, "g", 4, 32, 32, 1).t
	flat := good
	flat.W.Shape = []int{128, 4}
	badScales := good
	badScales.Scales = Dense("g.scales", modelfile.F16, make([]float32, 4*32), 4, 32, 1)
	affineNoBiases := good
	affineNoBiases.Mode = tensor.ExpertsAffine
	for what, ts := range map[string]tensor.ExpertTensors{
		"2-D weight": flat, "mxfp4 F16 scales": badScales, "affine without biases": affineNoBiases,
		"unknown mode": {W: good.W, Mode: "nf4"},
	} {
		run(t, b, func() error {
			if e, err := b.LoadExperts(ts); err == nil {
				t.Errorf("%s: no error", what)
				e.Free()
			}
			return nil
		})
	}
	var e tensor.Experts
	run(t, b, func() (err error) { e, err = b.LoadExperts(good); return err })
	x := func(rows, cols int) tensor.Array { return b.FromFloat32(rows, cols, make([]float32, rows*cols)) }
	op := tensor.MoE{Gate: e, Up: e, Down: e, TopK: 2}
	tooMany := op
	tooMany.TopK = 5
	for what, call := range map[string]func(){
		"logits columns": func() { b.MoE(x(2, 32), x(2, 3), op) },
		"logits rows":    func() { b.MoE(x(2, 32), x(1, 4), op) },
		"x columns":      func() { b.MoE(x(2, 16), x(2, 4), op) },
		"top k":          func() { b.MoE(x(2, 32), x(2, 4), tooMany) },
	} {
		if err := b.Run(func() error { call(); return nil }); err == nil {
			t.Errorf("%s: Run returned no error", what)
		}
	}
	free(t, b, e)
}

// testMXFP4Matrix checks MatMul (decode and prefill rows) and Embed with
// an mxfp4 matrix against its decoded values; an mxfp4 value is exact in
// float32, so gathered rows must be exact.
func testMXFP4Matrix(t *testing.T, b tensor.Backend) {
	rng := NewRand(60)
	m, k := 40, 128
	q := QuantizeMXFP4("w.weight", Random(rng, m*k, 1), 1, m, k)
	wt, st := q.W, q.Scales
	wt.Shape, st.Shape = []int{m, k / 8}, []int{m, k / 32}
	var w tensor.Weight
	run(t, b, func() (err error) { w, err = b.LoadMXFP4(wt, st); return err })
	if r, c := w.Shape(); r != m || c != k {
		t.Errorf("mxfp4 weight shape %d×%d, want %d×%d", r, c, m, k)
	}
	for _, n := range rowCounts {
		x := Random(rng, n*k, 2)
		want, mag := MatMulT(F64(x), q.Values, n, k, m)
		within(t, name("mxfp4 %dx%d·%dx%d", n, k, m, k), matmul(t, b, w, x, n, k), want, mag, matRel, matAbs)
	}
	ids := []int{39, 0, 7, 7}
	within(t, "mxfp4 embed", embed(t, b, w, ids), gather(q.Values, k, ids), nil, 0, 0)
	run(t, b, func() error {
		if _, err := b.LoadMXFP4(wt, Dense("s", modelfile.F16, make([]float32, m*k/32), m, k/32)); err == nil {
			t.Error("LoadMXFP4 with F16 scales: no error")
		}
		return nil
	})
	free(t, b, w)
}
