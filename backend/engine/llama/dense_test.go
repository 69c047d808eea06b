package llama_test

import (
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// Added for gemma3, phi3 and smollm3 (issue 16, dense).

// TestDense_ModelFiles writes each family's files as transformers and
// mlx-lm lay them out (gemma3 nested with language_model. tensors and
// vision weights, phi3's fused projections, quantized or not), opens them
// with modelfile and checks the forward pass against the reference past
// the sliding window.
func TestDense_ModelFiles(t *testing.T) {
	q4 := &modelfile.Quantization{GroupSize: 32, Bits: 4}
	longrope := &modelfile.RopeScaling{Type: "longrope", OriginalMaxPositionEmbeddings: 256,
		ShortFactor: []float64{1, 1, 1, 1, 1, 1}, LongFactor: []float64{1, 1.5, 2, 3, 5, 8}}
	models := []fileModel{
		{"gemma3 nested q4", testmodel.Spec{Architecture: "gemma3", NumLayers: 3, HeadDim: 32, Quantization: q4, SlidingWindow: 3,
			FinalLogitSoftcapping: 10, RopeScaling: &modelfile.RopeScaling{Type: "linear", Factor: 8}},
			func(c modelfile.Config) bool {
				return c.LayerWindows[0] == 3 && c.LayerWindows[1] == 0 && c.FinalLogitSoftcap == 10
			}},
		{"gemma3_text bf16 tied, two shards", testmodel.Spec{Architecture: "gemma3_text", TieWordEmbeddings: true, Shards: 2},
			func(c modelfile.Config) bool { return c.TieWordEmbeddings && c.QueryPreAttnScalar == 16 }},
		{"phi3 q4 partial longrope window", testmodel.Spec{Architecture: "phi3", NumKVHeads: 2, Quantization: q4, PartialRotaryFactor: 0.75,
			RopeScaling: longrope, SlidingWindow: 5},
			func(c modelfile.Config) bool { return c.RotaryDims == 12 && c.LayerWindows[1] == 5 }},
		{"phi3 f16", testmodel.Spec{Architecture: "phi3", DType: modelfile.F16},
			func(c modelfile.Config) bool { return c.RotaryDims == 16 && c.LayerWindows == nil }},
		{"smollm3 bf16 NoPE", testmodel.Spec{Architecture: "smollm3", NumLayers: 3, NoRopeLayers: "101"},
			func(c modelfile.Config) bool { return c.LayerNoRope[1] && !c.LayerNoRope[0] }},
	}
	testModelFiles(t, models)
}

// TestDense_LoadErrors: what Load refuses in these families names the
// tensor or setting.
func TestDense_LoadErrors(t *testing.T) {
	testLoadErrors(t, []loadError{
		{"phi3_bf16_tied_fused", "model.layers.0.self_attn.qkv_proj.weight", func(_ *modelfile.Config, w tensortest.Weights) {
			t := w["model.layers.0.self_attn.qkv_proj.weight"]
			t.Shape = []int{t.Shape[0] - 2, t.Shape[1]}
			t.Data = t.Data[:len(t.Data)-2*t.Shape[1]*2]
			w[t.Name] = t
		}},
		{"phi3_q4g64_partial_longrope", "model.layers.1.mlp.gate_up_proj.biases", func(_ *modelfile.Config, w tensortest.Weights) {
			delete(w, "model.layers.1.mlp.gate_up_proj.biases")
		}},
		{"gemma3_text_f32_local_global", "model.layers.2.post_feedforward_layernorm.weight", func(_ *modelfile.Config, w tensortest.Weights) {
			delete(w, "model.layers.2.post_feedforward_layernorm.weight")
		}},
		{"gemma3_text_f32_local_global", "model.layers.0.self_attn.k_norm.weight", func(_ *modelfile.Config, w tensortest.Weights) {
			w["model.layers.0.self_attn.k_norm.weight"] = tensortest.Dense("model.layers.0.self_attn.k_norm.weight", modelfile.F32, make([]float32, 3), 3)
		}},
		{"smollm3_f32_nope", "3 NoPE flags for 2 layers", func(c *modelfile.Config, _ tensortest.Weights) { c.NumLayers = 2 }},
		{"phi3_f32_partial_longrope_window", "RoPE over 13", func(c *modelfile.Config, _ tensortest.Weights) { c.RotaryDims = 13 }},
		{"phi3_f32_partial_longrope_window", "6 long factors for 5", func(c *modelfile.Config, _ tensortest.Weights) { c.RotaryDims = 10 }},
		{"llama_f32_gqa", "longrope RoPE scaling in a llama model", func(c *modelfile.Config, _ tensortest.Weights) {
			c.RopeScaling = &modelfile.RopeScaling{Type: "longrope", LongFactor: make([]float64, 8)}
		}},
	})
}
