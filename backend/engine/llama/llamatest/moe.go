package llamatest

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// Mixture-of-experts Specs (issue 16): qwen3_moe, mixtral and gpt_oss, and
// their reference forward pass written from transformers'
// modeling_qwen3_moe, modeling_mixtral and modeling_gpt_oss on the
// weights as mlx-lm stores them (experts stacked [experts, out, in]).

// MoESpec shapes a Spec's mixture of experts.
type MoESpec struct {
	Experts, TopK, Intermediate int
	NormTopK                    bool  // qwen3_moe's norm_topk_prob
	DenseLayers                 []int // qwen3_moe's mlp_only_layers
	// MXFP4 stores the experts in mxfp4 (gpt-oss as mlx-community ships
	// it); otherwise they follow the Spec's Quant or DType.
	MXFP4 bool
	// Windows are the layers' sliding windows (nil: none).
	Windows []int
}

func init() {
	q4g32 := &modelfile.Quantization{GroupSize: 32, Bits: 4}
	q4g64 := &modelfile.Quantization{GroupSize: 64, Bits: 4}
	q8g64 := &modelfile.Quantization{GroupSize: 64, Bits: 8}
	Specs = append(Specs,
		Spec{Name: "qwen3_moe_q4g32_norm_dense_layer", Arch: "qwen3_moe", DType: modelfile.BF16, Quant: q4g32, QKNorm: true, KVHeads: 2, HeadDim: 32, Seed: 101,
			MoE: &MoESpec{Experts: 8, TopK: 2, Intermediate: 64, NormTopK: true, DenseLayers: []int{1}}},
		Spec{Name: "qwen3_moe_f32_tied", Arch: "qwen3_moe", DType: modelfile.F32, Tied: true, QKNorm: true, KVHeads: 1, HeadDim: 16, Seed: 102,
			MoE: &MoESpec{Experts: 6, TopK: 3, Intermediate: 32}},
		Spec{Name: "mixtral_q4g64", Arch: "mixtral", DType: modelfile.F16, Quant: q4g64, KVHeads: 2, Seed: 103,
			MoE: &MoESpec{Experts: 8, TopK: 2, Intermediate: 64}},
		Spec{Name: "mixtral_bf16", Arch: "mixtral", DType: modelfile.BF16, KVHeads: 2, Seed: 104,
			MoE: &MoESpec{Experts: 4, TopK: 2, Intermediate: 64}},
		Spec{Name: "gpt_oss_mxfp4_q8g64_windows", Arch: "gpt_oss", DType: modelfile.BF16, Quant: q8g64, KVHeads: 2, Seed: 105,
			MoE: &MoESpec{Experts: 8, TopK: 3, Intermediate: 64, MXFP4: true, Windows: []int{4, 0}}},
		Spec{Name: "gpt_oss_all_mxfp4_windows", Arch: "gpt_oss", DType: modelfile.BF16, Quant: &modelfile.Quantization{GroupSize: 32, Bits: 4, Mode: "mxfp4"},
			KVHeads: 2, Seed: 107, MoE: &MoESpec{Experts: 4, TopK: 2, Intermediate: 64, Windows: []int{5, 0}}},
		Spec{Name: "gpt_oss_f32_windows", Arch: "gpt_oss", DType: modelfile.F32, KVHeads: 1, Seed: 106,
			MoE: &MoESpec{Experts: 4, TopK: 2, Intermediate: 32, Windows: []int{0, 3}}},
	)
}

// configure sets the mixture-of-experts fields of c (and gpt-oss's
// attention biases, sinks and YaRN RoPE as its config.json has them).
func (s *MoESpec) configure(c *modelfile.Config) {
	c.MoE = &modelfile.MoE{Experts: s.Experts, TopK: s.TopK, IntermediateSize: s.Intermediate,
		NormTopKProb: s.NormTopK, DenseLayers: s.DenseLayers}
	c.LayerWindows = s.Windows
	if c.Architecture == "gpt_oss" {
		c.MoE.SwiGLULimit = 7
		c.AttentionBias, c.AttentionSinks = true, true
		// gpt-oss's own scaling; with 16-wide heads and θ = 10⁴ the
		// correction range (2.6 to 5.6) falls inside the 8 frequencies.
		c.RopeScaling = &modelfile.RopeScaling{Type: "yarn", Factor: 32, BetaFast: 32, BetaSlow: 1,
			OriginalMaxPositionEmbeddings: 4096, NoTruncate: true}
	}
}

// moe adds layer p's router and experts in mlx-lm's naming.
func (g *gen) moe(c modelfile.Config, p string) {
	e := c.MoE
	router, ex := refMoENames(c.Architecture)
	gptOSS := c.Architecture == "gpt_oss"
	g.linear(p+router, e.Experts, c.HiddenSize, gptOSS)
	// gpt-oss's experts get larger weights so that its clamps (±7) bite.
	amp := 1.0
	if gptOSS {
		amp = 5
	}
	g.experts(p+ex+"gate_proj", e.Experts, e.IntermediateSize, c.HiddenSize, amp)
	g.experts(p+ex+"up_proj", e.Experts, e.IntermediateSize, c.HiddenSize, amp)
	g.experts(p+ex+"down_proj", e.Experts, c.HiddenSize, e.IntermediateSize, 1)
	if gptOSS {
		g.w[p+ex+"gate_proj.bias"] = tensortest.Dense(p+ex+"gate_proj.bias", g.s.DType, g.random(e.Experts*e.IntermediateSize, 0, 1), e.Experts, e.IntermediateSize)
		g.w[p+ex+"up_proj.bias"] = tensortest.Dense(p+ex+"up_proj.bias", g.s.DType, g.random(e.Experts*e.IntermediateSize, 0, 1), e.Experts, e.IntermediateSize)
		g.w[p+ex+"down_proj.bias"] = tensortest.Dense(p+ex+"down_proj.bias", g.s.DType, g.random(e.Experts*c.HiddenSize, 0, 0.3), e.Experts, c.HiddenSize)
	}
}

// experts adds n stacked rows×cols expert matrices.
func (g *gen) experts(prefix string, n, rows, cols int, amp float64) {
	v := g.random(n*rows*cols, 0, amp*math.Sqrt(3/float64(cols)))
	name := prefix + ".weight"
	switch {
	case g.s.MoE.MXFP4 || (g.s.Quant != nil && g.s.Quant.Mode == "mxfp4"):
		tensortest.QuantizeMXFP4(name, v, n, rows, cols).Add(g.w)
	case g.s.Quant != nil:
		q := tensortest.Quantize(name, v, n*rows, cols, g.s.Quant.GroupSize, g.s.Quant.Bits, g.s.DType)
		q.W.Shape = []int{n, rows, q.W.Shape[1]}
		q.Scales.Shape = []int{n, rows, q.Scales.Shape[1]}
		q.Biases.Shape = []int{n, rows, q.Biases.Shape[1]}
		q.Add(g.w)
	default:
		g.w[name] = tensortest.Dense(name, g.s.DType, v, n, rows, cols)
	}
}

// refMoENames are the router and expert prefixes of each architecture.
func refMoENames(arch string) (router, experts string) {
	switch arch {
	case "mixtral":
		return "block_sparse_moe.gate", "block_sparse_moe.switch_mlp."
	case "gpt_oss":
		return "mlp.router", "mlp.experts."
	}
	return "mlp.gate", "mlp.switch_mlp."
}

// sparse reports whether the layer with prefix p has a sparse MLP.
func (r *Reference) sparse(p string) bool {
	var i int
	if r.c.MoE == nil {
		return false
	}
	if _, err := fmt.Sscanf(p, "model.layers.%d.", &i); err != nil {
		panic(err)
	}
	return !slices.Contains(r.c.MoE.DenseLayers, i)
}

// moe is the sparse MLP of each of the n rows of x: the router's logits,
// the top-k experts with their weights (qwen3_moe and mixtral: softmax
// over all experts, then top-k, renormalized when norm_topk_prob or
// always for mixtral; gpt-oss: top-k logits, then softmax over them), and
// the weighted sum of the chosen experts' outputs.
func (r *Reference) moe(p string, x []float64, n int) []float64 {
	c, e := r.c, r.c.MoE
	d, inter := c.HiddenSize, e.IntermediateSize
	router, ex := refMoENames(c.Architecture)
	logits := r.linear(p+router, x, n, d, e.Experts)
	gate, up, down := r.experts(p+ex+"gate_proj"), r.experts(p+ex+"up_proj"), r.experts(p+ex+"down_proj")
	gb, ub, db := r.expertBias(p+ex+"gate_proj"), r.expertBias(p+ex+"up_proj"), r.expertBias(p+ex+"down_proj")
	out := make([]float64, n*d)
	for t := range n {
		experts, weights := r.route(logits[t*e.Experts : (t+1)*e.Experts])
		xt := x[t*d : (t+1)*d]
		for j, ei := range experts {
			g, _ := tensortest.MatMulT(xt, gate[ei*inter*d:(ei+1)*inter*d], 1, d, inter)
			u, _ := tensortest.MatMulT(xt, up[ei*inter*d:(ei+1)*inter*d], 1, d, inter)
			h := make([]float64, inter)
			for i := range h {
				h[i] = r.activation(g[i]+gb(ei*inter+i), u[i]+ub(ei*inter+i))
			}
			y, _ := tensortest.MatMulT(h, down[ei*d*inter:(ei+1)*d*inter], 1, inter, d)
			for i := range y {
				out[t*d+i] += weights[j] * (y[i] + db(ei*d+i))
			}
		}
	}
	return out
}

// route picks one row's experts and their weights.
func (r *Reference) route(logits []float64) ([]int, []float64) {
	k := r.c.MoE.TopK
	order := make([]int, len(logits))
	for i := range order {
		order[i] = i
	}
	// Largest first; equal logits keep the lower index first.
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return 0
	})
	chosen := order[:k]
	weights := make([]float64, k)
	if r.c.Architecture == "gpt_oss" {
		top := make([]float64, k)
		for j, e := range chosen {
			top[j] = logits[e]
		}
		return chosen, tensortest.Softmax(top)
	}
	probs := tensortest.Softmax(logits)
	var sum float64
	for j, e := range chosen {
		weights[j] = probs[e]
		sum += probs[e]
	}
	if r.c.Architecture == "mixtral" || r.c.MoE.NormTopKProb {
		for j := range weights {
			weights[j] /= sum
		}
	}
	return chosen, weights
}

// activation is SwiGLU, or gpt-oss's clamped variant (gate clamped above
// at the limit, up to ±limit, glu = gate·sigmoid(1.702·gate),
// out = (up+1)·glu).
func (r *Reference) activation(gate, up float64) float64 {
	if r.c.Architecture != "gpt_oss" {
		return tensortest.SiLU(gate) * up
	}
	limit := r.c.MoE.SwiGLULimit
	gate = math.Min(gate, limit)
	up = math.Max(math.Min(up, limit), -limit)
	glu := gate / (1 + math.Exp(-1.702*gate))
	return (up + 1) * glu
}

// expertBias gives element i of the [experts, out] bias of prefix (0
// without one).
func (r *Reference) expertBias(prefix string) func(i int) float64 {
	t, ok := r.w.Tensor(prefix + ".bias")
	if !ok {
		return func(int) float64 { return 0 }
	}
	b := tensortest.Decode(t)
	return func(i int) float64 { return b[i] }
}

// experts decodes the stacked experts of prefix: dense, affine or mxfp4.
func (r *Reference) experts(prefix string) []float64 {
	w := r.must(prefix + ".weight")
	s, ok := r.w.Tensor(prefix + ".scales")
	switch {
	case !ok:
		return tensortest.Decode(w)
	case s.DType == modelfile.U8:
		return tensortest.DequantizeMXFP4(w, s)
	}
	cols := r.c.HiddenSize
	if strings.HasSuffix(prefix, "down_proj") {
		cols = r.c.MoE.IntermediateSize
	}
	return tensortest.Dequantize(tensortest.Quantized{W: w, Scales: s, Biases: r.must(prefix + ".biases"),
		Bits: w.Shape[2] * 32 / cols, GroupSize: cols / s.Shape[2]})
}

// mxfp4Matrix adds a 2-D matrix in mxfp4 (a gpt-oss model quantized with
// mode "mxfp4" throughout).
func (g *gen) mxfp4Matrix(prefix string, v []float32, rows, cols int) {
	m := tensortest.QuantizeMXFP4(prefix+".weight", v, 1, rows, cols)
	m.W.Shape, m.Scales.Shape = []int{rows, cols / 8}, []int{rows, cols / 32}
	m.Add(g.w)
}
