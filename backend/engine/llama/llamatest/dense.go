package llamatest

import (
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// Added for gemma3, phi3 and smollm3 (issue 16, dense): the tiny models
// of these families. Every gemma3 and windowed phi3 spec has a window
// shorter than the 11 positions the tests run, and gemma3's specs mix
// local and global layers.
var denseSpecs = []Spec{
	{Name: "gemma3_text_f32_local_global", Arch: "gemma3_text", DType: modelfile.F32, Tied: true, KVHeads: 2, HeadDim: 32,
		Layers: 3, Window: 4, Pattern: 2, Seed: 10},
	// hidden 96: sqrt(96) rounds in bfloat16, so the embedding scale's dtype matters.
	{Name: "gemma3_bf16_softcap_linearrope", Arch: "gemma3", DType: modelfile.BF16, KVHeads: 1, Hidden: 96,
		Layers: 3, Window: 3, Pattern: 3, Softcap: 6, LinearRope: 4, Seed: 11},
	{Name: "gemma3_q4g32_tied_window", Arch: "gemma3_text", DType: modelfile.BF16, Quant: &modelfile.Quantization{GroupSize: 32, Bits: 4},
		Tied: true, KVHeads: 2, Window: 5, Pattern: 2, Softcap: 20, Seed: 12},
	{Name: "phi3_f32_partial_longrope_window", Arch: "phi3", DType: modelfile.F32, KVHeads: 2, PartialRotary: 0.75, LongRope: true,
		Window: 6, Seed: 13},
	{Name: "phi3_bf16_tied_fused", Arch: "phi3", DType: modelfile.BF16, Tied: true, KVHeads: 4, Seed: 14},
	{Name: "phi3_q4g64_partial_longrope", Arch: "phi3", DType: modelfile.BF16, Quant: &modelfile.Quantization{GroupSize: 64, Bits: 4},
		KVHeads: 2, PartialRotary: 0.5, LongRope: true, Seed: 15},
	{Name: "smollm3_f32_nope", Arch: "smollm3", DType: modelfile.F32, KVHeads: 2, Layers: 3, NoRope: []bool{false, true, false}, Seed: 16},
	{Name: "smollm3_bf16_tied_nope", Arch: "smollm3", DType: modelfile.BF16, Tied: true, KVHeads: 1, NoRope: []bool{true, false}, Seed: 17},
	{Name: "smollm3_q4g64_nope", Arch: "smollm3", DType: modelfile.BF16, Quant: &modelfile.Quantization{GroupSize: 64, Bits: 4},
		KVHeads: 2, NoRope: []bool{false, true}, Seed: 18},
}

func init() { Specs = append(Specs, denseSpecs...) }

// denseConfig sets the family's configuration fields from s.
func denseConfig(s Spec, c *modelfile.Config) {
	if s.Hidden > 0 {
		c.HiddenSize = s.Hidden
	}
	if s.Layers > 0 {
		c.NumLayers = s.Layers
	}
	rng := tensortest.NewRand(s.Seed + 1000)
	switch s.Arch {
	case "gemma3", "gemma3_text":
		c.QKNorm, c.RMSNormEps, c.RopeTheta, c.RopeLocalTheta = true, 1e-6, 1e6, 10000
		c.QueryPreAttnScalar = 24 // not head_dim: the scale must come from it
		c.FinalLogitSoftcap = s.Softcap
		if s.LinearRope > 0 {
			c.RopeScaling = &modelfile.RopeScaling{Type: "linear", Factor: s.LinearRope}
		}
		c.LayerWindows = make([]int, c.NumLayers)
		for i := range c.LayerWindows {
			if (i+1)%s.Pattern != 0 {
				c.LayerWindows[i] = s.Window
			}
		}
	case "phi3":
		if s.PartialRotary > 0 {
			c.RotaryDims = int(float64(c.HeadDim) * s.PartialRotary)
		}
		if s.LongRope {
			pairs := c.HeadDim / 2
			if c.RotaryDims > 0 {
				pairs = c.RotaryDims / 2
			}
			rs := &modelfile.RopeScaling{Type: "longrope", OriginalMaxPositionEmbeddings: context / 8}
			for range pairs {
				rs.ShortFactor = append(rs.ShortFactor, 1+rng.Float64())
				rs.LongFactor = append(rs.LongFactor, 1+3*rng.Float64())
			}
			c.RopeScaling = rs
		}
		if s.Window > 0 {
			c.LayerWindows = make([]int, c.NumLayers)
			for i := range c.LayerWindows {
				c.LayerWindows[i] = s.Window
			}
		}
	case "smollm3":
		c.LayerNoRope = s.NoRope
	}
}

// denseModel adds gemma3's or phi3's tensors; false for other families.
func (g *gen) denseModel(c modelfile.Config) bool {
	gemma := c.Architecture == "gemma3" || c.Architecture == "gemma3_text"
	if !gemma && c.Architecture != "phi3" {
		return false
	}
	g.matrix("model.embed_tokens", c.VocabSize, c.HiddenSize, 1)
	if !c.TieWordEmbeddings {
		g.matrix("lm_head", c.VocabSize, c.HiddenSize, 1/math.Sqrt(hidden))
	}
	norm := g.norm
	if gemma {
		norm = func(name string, n int) { g.vector(name, n, 0, 0.25) } // Gemma's norms compute x·(1+w)
	}
	norm("model.norm.weight", c.HiddenSize)
	q, kv := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	for i := range c.NumLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		norm(p+"input_layernorm.weight", c.HiddenSize)
		norm(p+"post_attention_layernorm.weight", c.HiddenSize)
		g.linear(p+"self_attn.o_proj", c.HiddenSize, q, false)
		g.linear(p+"mlp.down_proj", c.HiddenSize, c.IntermediateSize, false)
		if !gemma {
			g.linear(p+"self_attn.qkv_proj", q+2*kv, c.HiddenSize, false)
			g.linear(p+"mlp.gate_up_proj", 2*c.IntermediateSize, c.HiddenSize, false)
			continue
		}
		norm(p+"pre_feedforward_layernorm.weight", c.HiddenSize)
		norm(p+"post_feedforward_layernorm.weight", c.HiddenSize)
		norm(p+"self_attn.q_norm.weight", c.HeadDim)
		norm(p+"self_attn.k_norm.weight", c.HeadDim)
		g.linear(p+"self_attn.q_proj", q, c.HiddenSize, false)
		g.linear(p+"self_attn.k_proj", kv, c.HiddenSize, false)
		g.linear(p+"self_attn.v_proj", kv, c.HiddenSize, false)
		g.linear(p+"mlp.gate_proj", c.IntermediateSize, c.HiddenSize, false)
		g.linear(p+"mlp.up_proj", c.IntermediateSize, c.HiddenSize, false)
	}
	return true
}
