// Package llamatest holds the model-level conformance tests of the
// Llama-family forward pass, written once against tensor.Backend: tiny
// random models of every architecture and weight format, built in
// memory, run through llama.Model and compared with a plain float64
// forward pass written here from the formulas.
package llamatest

import (
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// Spec describes a tiny random model.
type Spec struct {
	Name          string
	Arch          string          // llama, mistral, qwen2, qwen3
	DType         modelfile.DType // dense tensors: weights, norms, biases, scales
	Quant         *modelfile.Quantization
	Tied          bool
	Llama3Rope    bool
	AttentionBias bool // q/k/v biases (and o_proj's for llama)
	QKNorm        bool
	KVHeads       int
	HeadDim       int // 0: hidden/heads
	// Windows is each layer's sliding window (Config.LayerWindows); nil:
	// none. The test sequence is longer than every window given.
	Windows []int
	Seed    uint64

	// Added for gemma3, phi3 and smollm3 (issue 16, dense).
	Hidden        int     // 0: 64
	Layers        int     // 0: 2
	Window        int     // gemma3: the local layers' sliding window; phi3: every layer's
	Pattern       int     // gemma3: every Pattern-th layer is global
	Softcap       float64 // gemma3: final_logit_softcapping
	PartialRotary float64 // phi3: partial_rotary_factor (0: 1)
	LongRope      bool    // phi3: longrope scaling with a context 8 times the original
	LinearRope    float64 // gemma3: linear rope_scaling factor of the global layers
	NoRope        []bool  // smollm3: the NoPE layers

	// Added for mixture-of-experts (issue 16): qwen3_moe, mixtral and
	// gpt_oss Specs (see moe.go).
	MoE *MoESpec
}

// The tiny models' dimensions: large enough for two quantization groups
// of 64 per row, small enough for -race.
const (
	hidden       = 64
	intermediate = 128
	layers       = 2
	heads        = 4
	vocab        = 80
	context      = 64
)

// Specs covers each architecture, dense F32/F16/BF16 and 4/8-bit
// quantized weights with groups of 32 and 64, tied and separate output
// embeddings, multi-head and grouped-query attention, Llama 3 RoPE
// scaling, and sliding windows on every layer or some.
var Specs = []Spec{
	{Name: "llama_f32_gqa", Arch: "llama", DType: modelfile.F32, KVHeads: 2, Seed: 1},
	{Name: "llama_bf16_tied_llama3rope", Arch: "llama", DType: modelfile.BF16, Tied: true, Llama3Rope: true, KVHeads: 2, Seed: 2},
	{Name: "llama_f32_attention_bias", Arch: "llama", DType: modelfile.F32, AttentionBias: true, KVHeads: 1, Seed: 3},
	{Name: "llama_q4g64_tied_llama3rope", Arch: "llama", DType: modelfile.BF16, Quant: &modelfile.Quantization{GroupSize: 64, Bits: 4}, Tied: true, Llama3Rope: true, KVHeads: 2, Seed: 4},
	{Name: "mistral_f16_mha", Arch: "mistral", DType: modelfile.F16, KVHeads: 4, Seed: 5},
	{Name: "qwen2_q4g32_tied_bias", Arch: "qwen2", DType: modelfile.BF16, Quant: &modelfile.Quantization{GroupSize: 32, Bits: 4}, Tied: true, AttentionBias: true, KVHeads: 2, Seed: 6},
	{Name: "qwen2_f16_bias", Arch: "qwen2", DType: modelfile.F16, AttentionBias: true, KVHeads: 2, Seed: 7},
	{Name: "qwen3_q8g64_qknorm", Arch: "qwen3", DType: modelfile.F16, Quant: &modelfile.Quantization{GroupSize: 64, Bits: 8}, QKNorm: true, KVHeads: 2, HeadDim: 32, Seed: 8},
	{Name: "qwen3_bf16_tied_qknorm", Arch: "qwen3", DType: modelfile.BF16, Tied: true, QKNorm: true, KVHeads: 1, HeadDim: 32, Seed: 9},
	// Added for gemma3, phi3 and smollm3 (issue 16, dense): see dense.go.
	// Sliding windows shorter than the 11-token test sequence: mistral's
	// sliding_window on every layer, qwen2's use_sliding_window with
	// max_window_layers 1 (layer 0 full, layer 1 sliding).
	{Name: "mistral_f16_window3", Arch: "mistral", DType: modelfile.F16, KVHeads: 2, Windows: []int{3, 3}, Seed: 10},
	{Name: "qwen2_bf16_bias_window4_layer1", Arch: "qwen2", DType: modelfile.BF16, AttentionBias: true, KVHeads: 2, Windows: []int{0, 4}, Seed: 11},
	{Name: "qwen2_q8g64_window2", Arch: "qwen2", DType: modelfile.F16, Quant: &modelfile.Quantization{GroupSize: 64, Bits: 8}, AttentionBias: true, KVHeads: 1, Windows: []int{2, 5}, Seed: 12},
}

// Build makes the model's configuration and random weights (seeded: the
// same Spec always gives the same model).
func Build(s Spec) (modelfile.Config, tensortest.Weights) {
	cfg := modelfile.Config{
		Architecture: s.Arch, HiddenSize: hidden, IntermediateSize: intermediate, NumLayers: layers,
		NumHeads: heads, NumKVHeads: s.KVHeads, HeadDim: s.HeadDim, VocabSize: vocab,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: context,
		TieWordEmbeddings: s.Tied, AttentionBias: s.AttentionBias, QKNorm: s.QKNorm, Quantization: s.Quant,
		LayerWindows: s.Windows,
	}
	if cfg.HeadDim == 0 {
		cfg.HeadDim = hidden / heads
	}
	if s.MoE != nil {
		s.MoE.configure(&cfg)
	}
	if s.Llama3Rope {
		// Wavelengths of 16-wide heads run from 6.3 to 2·10⁴: with an
		// original context of 16 every branch of the scaling is taken.
		cfg.RopeScaling = &modelfile.RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 16}
	}
	denseConfig(s, &cfg)
	g := &gen{s: s, w: tensortest.Weights{}, rng: tensortest.NewRand(s.Seed)}
	if !g.denseModel(cfg) {
		g.model(cfg)
	}
	return cfg, g.w
}

// gen adds random tensors to w.
type gen struct {
	s   Spec
	w   tensortest.Weights
	rng interface{ Float64() float64 }
}

func (g *gen) model(c modelfile.Config) {
	g.matrix("model.embed_tokens", c.VocabSize, c.HiddenSize, 1)
	if !c.TieWordEmbeddings {
		g.matrix("lm_head", c.VocabSize, c.HiddenSize, 1/math.Sqrt(hidden))
	}
	g.norm("model.norm.weight", c.HiddenSize)
	q, kv := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	for i := range c.NumLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		g.norm(p+"input_layernorm.weight", c.HiddenSize)
		g.norm(p+"post_attention_layernorm.weight", c.HiddenSize)
		g.linear(p+"self_attn.q_proj", q, c.HiddenSize, c.AttentionBias)
		g.linear(p+"self_attn.k_proj", kv, c.HiddenSize, c.AttentionBias)
		g.linear(p+"self_attn.v_proj", kv, c.HiddenSize, c.AttentionBias)
		g.linear(p+"self_attn.o_proj", c.HiddenSize, q, c.AttentionBias && (c.Architecture == "llama" || c.Architecture == "gpt_oss"))
		if c.MoE.Sparse(i) {
			g.moe(c, p)
		} else {
			g.linear(p+"mlp.gate_proj", c.IntermediateSize, c.HiddenSize, false)
			g.linear(p+"mlp.up_proj", c.IntermediateSize, c.HiddenSize, false)
			g.linear(p+"mlp.down_proj", c.HiddenSize, c.IntermediateSize, false)
		}
		if c.AttentionSinks {
			g.vector(p+"self_attn.sinks", c.NumHeads, 0, 1)
		}
		if c.QKNorm {
			g.norm(p+"self_attn.q_norm.weight", c.HeadDim)
			g.norm(p+"self_attn.k_norm.weight", c.HeadDim)
		}
	}
}

// linear adds a projection whose outputs keep about the inputs' scale.
func (g *gen) linear(prefix string, rows, cols int, bias bool) {
	g.matrix(prefix, rows, cols, math.Sqrt(3/float64(cols)))
	if bias {
		g.vector(prefix+".bias", rows, 0, 0.3)
	}
}

// matrix adds prefix.weight, quantized when the Spec says so.
func (g *gen) matrix(prefix string, rows, cols int, scale float64) {
	v := g.random(rows*cols, 0, scale)
	if g.s.Quant == nil {
		g.w[prefix+".weight"] = tensortest.Dense(prefix+".weight", g.s.DType, v, rows, cols)
		return
	}
	if g.s.Quant.Mode == "mxfp4" { // issue 16
		g.mxfp4Matrix(prefix, v, rows, cols)
		return
	}
	tensortest.Quantize(prefix+".weight", v, rows, cols, g.s.Quant.GroupSize, g.s.Quant.Bits, g.s.DType).Add(g.w)
}

// norm adds a norm weight near 1.
func (g *gen) norm(name string, n int) { g.vector(name, n, 1, 0.25) }

func (g *gen) vector(name string, n int, center, scale float64) {
	g.w[name] = tensortest.Dense(name, g.s.DType, g.random(n, center, scale), n)
}

func (g *gen) random(n int, center, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(center + (2*g.rng.Float64()-1)*scale)
	}
	return v
}
