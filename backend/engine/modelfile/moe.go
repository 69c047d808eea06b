package modelfile

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Mixture-of-experts architectures (issue 16): qwen3_moe, mixtral and
// gpt_oss, their config fields, and the tensors of their sparse layers
// (stacked experts [experts, out, in] as mlx-lm's SwitchGLU stores them).

// moeArchitectures are the archRules of the MoE model_types, after
// mlx-lm's ModelArgs (qwen3_moe.py, mixtral.py, gpt_oss.py) with
// transformers' defaults where mlx-lm has none.
var moeArchitectures = map[string]archRules{
	"qwen3_moe": {kvRequired: true, headDim: headDimRequired, qkNorm: true, windows: windowsQwen},
	"mixtral":   {ropeTheta: 1e6, maxPos: 131072, headDim: headDimDerived, windows: windowsEvery},
	"gpt_oss":   {ropeTheta: 150000, maxPos: 131072, headDim: headDimRequired, attnBias: true, windows: windowsAlternate},
}

func init() {
	for name, r := range moeArchitectures {
		architectures[name] = r
	}
}

// rawMoE is the part of config.json only the MoE architectures read.
type rawMoE struct {
	NumExperts          *int     `json:"num_experts"`       // qwen3_moe
	NumLocalExperts     *int     `json:"num_local_experts"` // mixtral, gpt_oss
	NumExpertsPerTok    *int     `json:"num_experts_per_tok"`
	ExpertsPerToken     *int     `json:"experts_per_token"` // gpt_oss's older name
	MoEIntermediateSize *int     `json:"moe_intermediate_size"`
	DecoderSparseStep   *int     `json:"decoder_sparse_step"`
	MLPOnlyLayers       []int    `json:"mlp_only_layers"`
	NormTopKProb        *bool    `json:"norm_topk_prob"`
	SwiGLULimit         *float64 `json:"swiglu_limit"`
	UseSlidingWindow    bool     `json:"use_sliding_window"` // qwen3_moe
}

// moeConfig fills c's MoE fields (and gpt-oss's sinks) from config.json;
// their sliding windows are window.go's.
func (f *fields) moeConfig(mc *modelConfig, data []byte) {
	c := &mc.Config
	var raw rawMoE
	if !f.decode(data, &raw) {
		return
	}
	e := &MoE{}
	c.MoE = e
	switch c.Architecture {
	case "qwen3_moe":
		e.Experts = f.positive("num_experts", raw.NumExperts, 0)
		e.IntermediateSize = f.positive("moe_intermediate_size", raw.MoEIntermediateSize, 0)
		step := f.positive("decoder_sparse_step", raw.DecoderSparseStep, 1)
		e.NormTopKProb = raw.NormTopKProb != nil && *raw.NormTopKProb
		for i := range c.NumLayers {
			// transformers: sparse when not in mlp_only_layers and (i+1) % step == 0.
			if slices.Contains(raw.MLPOnlyLayers, i) || step <= 0 || (i+1)%step != 0 {
				e.DenseLayers = append(e.DenseLayers, i)
			}
		}
		if raw.UseSlidingWindow {
			f.fail("use_sliding_window", ErrUnsupported, "true (sliding windows in qwen3_moe)")
		}
		for _, i := range raw.MLPOnlyLayers {
			if i < 0 || i >= c.NumLayers {
				f.fail("mlp_only_layers", ErrInvalidConfig, "layer %d of %d", i, c.NumLayers)
			}
		}
	case "mixtral":
		e.Experts = f.positive("num_local_experts", raw.NumLocalExperts, 8)
		e.IntermediateSize = c.IntermediateSize
		e.NormTopKProb = true
	case "gpt_oss":
		e.Experts = f.positive("num_local_experts", raw.NumLocalExperts, 0)
		e.IntermediateSize = c.IntermediateSize
		e.NormTopKProb = true
		e.SwiGLULimit = f.positiveFloat("swiglu_limit", raw.SwiGLULimit, 7)
		c.AttentionSinks, mc.outputBias = true, true
	}
	perTok := raw.NumExpertsPerTok
	if perTok == nil {
		perTok = raw.ExpertsPerToken
	}
	e.TopK = f.positive("num_experts_per_tok", perTok, defaultIf(c.Architecture == "mixtral", 2))
	if e.Experts > 0 && e.TopK > e.Experts {
		f.fail("num_experts_per_tok", ErrInvalidConfig, "%d exceeds the %d experts", e.TopK, e.Experts)
	}
	if len(e.DenseLayers) == c.NumLayers && c.NumLayers > 0 {
		e.DenseLayers = nil
		c.MoE = nil // no sparse layer: a dense qwen3 in all but name
	}
}

// yarnScaling parses a "yarn" rope_scaling (gpt-oss) as transformers
// reads it; mscale, mscale_all_dim and attention_factor, which change the
// attention factor, are refused.
func (f *fields) yarnScaling(field string, rs *rawRopeScaling) *RopeScaling {
	for name, v := range map[string]json.RawMessage{"mscale": rs.Mscale, "mscale_all_dim": rs.MscaleAD, "attention_factor": rs.AttentionFactor} {
		if !isNull(v) {
			f.fail(field+"."+name, ErrUnsupported, "yarn with %s", name)
		}
	}
	s := &RopeScaling{Type: "yarn"}
	s.Factor = f.positiveFloat(field+".factor", rs.Factor, 0)
	s.OriginalMaxPositionEmbeddings = f.positive(field+".original_max_position_embeddings", rs.Original, 0)
	s.BetaFast = f.positiveFloat(field+".beta_fast", rs.Fast, 32)
	s.BetaSlow = f.positiveFloat(field+".beta_slow", rs.Slow, 1)
	s.NoTruncate = rs.Truncate != nil && !*rs.Truncate
	return s
}

// expertStack is one projection of a sparse layer's experts.
type expertStack struct {
	prefix     string
	n, out, in int
	bias       bool // "<prefix>.bias" [n, out] (gpt-oss)
}

// MoETensors are where a sparse layer of arch keeps its router and its
// stacked experts, relative to the layer's prefix, as mlx-lm names them:
// the router's matrix is router+".weight", the experts'
// experts+"gate_proj.weight" and so on.
func MoETensors(arch string) (router, experts string) {
	switch arch {
	case "mixtral":
		return "block_sparse_moe.gate", "block_sparse_moe.switch_mlp."
	case "gpt_oss":
		return "mlp.router", "mlp.experts."
	}
	return "mlp.gate", "mlp.switch_mlp." // qwen3_moe
}

// moeLayout lists the tensors of sparse layer i (prefix p) in place of
// the dense MLP's: the router and the stacked experts.
func moeLayout(c Config, p string) ([]matrix, []vector, []expertStack) {
	e := c.MoE
	router, ex := MoETensors(c.Architecture)
	gptOSS := e.SwiGLULimit > 0
	h, in := c.HiddenSize, e.IntermediateSize
	mats := []matrix{{p + router, e.Experts, h}}
	var vecs []vector
	if gptOSS {
		vecs = append(vecs, vector{p + router + ".bias", e.Experts})
	}
	stacks := []expertStack{
		{p + ex + "gate_proj", e.Experts, in, h, gptOSS},
		{p + ex + "up_proj", e.Experts, in, h, gptOSS},
		{p + ex + "down_proj", e.Experts, h, in, gptOSS},
	}
	return mats, vecs, stacks
}

// checkExperts checks one expert stack: dense [n, out, in], affine
// (weight U32 [n, out, in·bits/32], scales and biases [n, out,
// in/group]) or mxfp4 (weight U32 [n, out, in/8], scales U8 [n, out,
// in/32]), as its quantization (per-layer or the model's) says, and its
// bias.
func checkExperts(mc *modelConfig, cat *catalog, s expertStack, expected map[string]bool) (*Quantization, error) {
	q, override := mc.layerQuant[s.prefix]
	_, file, scaled := cat.find(s.prefix + ".scales")
	switch {
	case override:
	case !scaled:
		q = nil
	case mc.Quantization == nil:
		return nil, &TensorError{file, s.prefix + ".scales", wrapf(ErrTensorShape, "quantized weights, but config.json has no quantization")}
	default:
		q = mc.Quantization
	}
	weight := s.prefix + ".weight"
	expected[weight] = true
	var errs []error
	if s.bias {
		expected[s.prefix+".bias"] = true
		errs = append(errs, checkTensor(cat, s.prefix+".bias", floatTypes, s.n, s.out))
	}
	switch {
	case q == nil:
		errs = append(errs, checkTensor(cat, weight, floatTypes, s.n, s.out, s.in))
	case q.Mode == "mxfp4":
		expected[s.prefix+".scales"] = true
		errs = append(errs, checkTensor(cat, weight, []DType{U32}, s.n, s.out, s.in/8),
			checkTensor(cat, s.prefix+".scales", []DType{U8}, s.n, s.out, s.in/32))
	default:
		if s.in%q.GroupSize != 0 {
			return nil, &TensorError{file, weight, wrapf(ErrTensorShape, "input size %d is not a multiple of group_size %d", s.in, q.GroupSize)}
		}
		expected[s.prefix+".scales"], expected[s.prefix+".biases"] = true, true
		errs = append(errs, checkTensor(cat, weight, []DType{U32}, s.n, s.out, s.in*q.Bits/32),
			checkTensor(cat, s.prefix+".scales", floatTypes, s.n, s.out, s.in/q.GroupSize),
			checkTensor(cat, s.prefix+".biases", floatTypes, s.n, s.out, s.in/q.GroupSize))
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return q, nil
}

// expertLayout lists the expert stacks of every sparse layer.
func expertLayout(c Config) []expertStack {
	var out []expertStack
	for i := range c.NumLayers {
		if c.MoE.Sparse(i) {
			_, _, stacks := moeLayout(c, fmt.Sprintf("model.layers.%d.", i))
			out = append(out, stacks...)
		}
	}
	return out
}

// QuantizeMXFP4Row quantizes one row as mlx.core.quantize(mode="mxfp4")
// does (issue 16): per group of 32 values the E8M0 exponent
// e = round(log2(max|w|/6)) (0 for an all-zero group), stored as e+127,
// and each value the E2M1 code nearest w/2^e (the lower code among
// equals), eight codes per uint32, the first in the lowest bits. packed
// needs len(row)/8 words, scales len(row)/32 bytes.
func QuantizeMXFP4Row(row []float32, packed []uint32, scales []byte) error {
	if len(row)%32 != 0 || len(packed) != len(row)/8 || len(scales) != len(row)/32 {
		return fmt.Errorf("mxfp4: a row of %d values with %d words and %d scales", len(row), len(packed), len(scales))
	}
	clear(packed)
	for g := range scales {
		group := row[g*32 : (g+1)*32]
		var amax float64
		for _, w := range group {
			amax = max(amax, math.Abs(float64(w)))
		}
		e := 0
		if amax > 0 {
			e = int(math.RoundToEven(math.Log2(amax / 6)))
		}
		e = min(max(e, -127), 127)
		scales[g] = byte(e + 127)
		for j, w := range group {
			y := float64(w) / math.Ldexp(1, e)
			best := 0
			for c, v := range e2m1 {
				if math.Abs(y-v) < math.Abs(y-e2m1[best]) {
					best = c
				}
			}
			k := g*32 + j
			packed[k/8] |= uint32(best) << (4 * (k % 8))
		}
	}
	return nil
}

// e2m1 is the value of each 4-bit E2M1 code.
var e2m1 = [16]float64{0, 0.5, 1, 1.5, 2, 3, 4, 6, 0, -0.5, -1, -1.5, -2, -3, -4, -6}

// checkMXFP4 checks an mxfp4 matrix: weight U32 [out, in/8], scales U8
// [out, in/32], no biases.
func checkMXFP4(cat *catalog, prefix string, out, in int, expected map[string]bool) error {
	weight := prefix + ".weight"
	expected[weight], expected[prefix+".scales"] = true, true
	if in%32 != 0 {
		_, file, _ := cat.find(weight)
		return &TensorError{file, weight, wrapf(ErrTensorShape, "input size %d is not a multiple of mxfp4's group of 32", in)}
	}
	if err := checkTensor(cat, weight, []DType{U32}, out, in/8); err != nil {
		return err
	}
	return checkTensor(cat, prefix+".scales", []DType{U8}, out, in/32)
}
