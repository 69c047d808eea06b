package llama_test

import (
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// TestMoE_FromDisk writes mixture-of-experts models as mlx-lm lays them
// out on disk, opens them with modelfile (config parsing and tensor
// checks) and runs them against the reference: the whole path a
// downloaded qwen3_moe, mixtral or gpt-oss model takes.
func TestMoE_FromDisk(t *testing.T) {
	models := []fileModel{
		{"qwen3_moe_q4_dense_layer", testmodel.Spec{Architecture: "qwen3_moe", HeadDim: 32, NumExperts: 6, ExpertsPerTok: 2, MLPOnlyLayers: 1 << 1,
			NumLayers: 3, Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4}, Seed: 1}, nil},
		{"mixtral_f16", testmodel.Spec{Architecture: "mixtral", DType: modelfile.F16, NumExperts: 4, ExpertsPerTok: 2, Seed: 2}, nil},
		{"gpt_oss_mxfp4_q8_windows", testmodel.Spec{Architecture: "gpt_oss", NumExperts: 4, ExpertsPerTok: 2, SlidingWindow: 4, NumLayers: 3,
			ExpertsMXFP4: true, Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 8}, Seed: 3}, nil},
		{"gpt_oss_all_mxfp4", testmodel.Spec{Architecture: "gpt_oss", NumExperts: 4, ExpertsPerTok: 2, SlidingWindow: 3,
			Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4, Mode: "mxfp4"}, Seed: 4}, nil},
	}
	testModelFiles(t, models)
}

// TestLoad_MoEErrors: what Load refuses in the MoE families names the
// tensor or setting.
func TestLoad_MoEErrors(t *testing.T) {
	testLoadErrors(t, []loadError{
		{"qwen3_moe_f32_tied", "model.layers.1.mlp.switch_mlp.up_proj.weight", func(_ *modelfile.Config, w tensortest.Weights) {
			delete(w, "model.layers.1.mlp.switch_mlp.up_proj.weight")
		}},
		{"qwen3_moe_f32_tied", "model.layers.0.mlp.switch_mlp.down_proj", func(_ *modelfile.Config, w tensortest.Weights) {
			t := w["model.layers.0.mlp.switch_mlp.down_proj.weight"]
			t.Shape = []int{t.Shape[0] / 2, t.Shape[1] * 2, t.Shape[2]}
			w[t.Name] = t
		}},
		{"mixtral_q4g64", "model.layers.0.block_sparse_moe.gate", func(_ *modelfile.Config, w tensortest.Weights) {
			delete(w, "model.layers.0.block_sparse_moe.gate.weight")
		}},
		{"gpt_oss_f32_windows", "model.layers.1.mlp.experts.down_proj.bias", func(_ *modelfile.Config, w tensortest.Weights) {
			delete(w, "model.layers.1.mlp.experts.down_proj.bias")
		}},
		{"gpt_oss_f32_windows", "model.layers.0.self_attn.sinks", func(_ *modelfile.Config, w tensortest.Weights) {
			delete(w, "model.layers.0.self_attn.sinks")
		}},
		{"gpt_oss_f32_windows", "swiglu_limit", func(c *modelfile.Config, _ tensortest.Weights) { c.MoE.SwiGLULimit = 0 }},
		{"mixtral_q4g64", "top 3 of 2 experts", func(c *modelfile.Config, _ tensortest.Weights) { c.MoE.Experts, c.MoE.TopK = 2, 3 }},
		{"qwen3_moe_f32_tied", "without a mixture-of-experts configuration", func(c *modelfile.Config, _ tensortest.Weights) { c.MoE = nil }},
	})
}
