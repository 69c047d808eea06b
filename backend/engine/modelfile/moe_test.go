package modelfile_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

const moeFields = `"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "vocab_size": 304, "rms_norm_eps": 1e-6`

func TestReadConfig_MoE(t *testing.T) {
	qwen := `{"model_type": "qwen3_moe", "num_key_value_heads": 2, "head_dim": 32, "rope_theta": 1000000, "max_position_embeddings": 40960,
		"tie_word_embeddings": false, "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32, "norm_topk_prob": true, `
	tests := []struct {
		name, config string
		want         modelfile.Config
	}{
		{"qwen3_moe, every layer sparse", qwen + `"decoder_sparse_step": 1, "mlp_only_layers": [], ` + moeFields + `}`,
			modelfile.Config{Architecture: "qwen3_moe", HiddenSize: 64, IntermediateSize: 128, NumLayers: 4, NumHeads: 4, NumKVHeads: 2,
				HeadDim: 32, VocabSize: 304, RMSNormEps: 1e-6, RopeTheta: 1e6, MaxPositionEmbeddings: 40960, QKNorm: true,
				MoE: &modelfile.MoE{Experts: 8, TopK: 2, IntermediateSize: 32, NormTopKProb: true}}},
		{"qwen3_moe, mlp_only_layers and decoder_sparse_step 2", qwen + `"decoder_sparse_step": 2, "mlp_only_layers": [1], ` + moeFields + `}`,
			modelfile.Config{Architecture: "qwen3_moe", HiddenSize: 64, IntermediateSize: 128, NumLayers: 4, NumHeads: 4, NumKVHeads: 2,
				HeadDim: 32, VocabSize: 304, RMSNormEps: 1e-6, RopeTheta: 1e6, MaxPositionEmbeddings: 40960, QKNorm: true,
				MoE: &modelfile.MoE{Experts: 8, TopK: 2, IntermediateSize: 32, NormTopKProb: true, DenseLayers: []int{0, 1, 2}}}},
		{"mixtral defaults as mlx-lm", `{"model_type": "mixtral", "num_key_value_heads": 2, "sliding_window": null, "tie_word_embeddings": false, ` + moeFields + `}`,
			modelfile.Config{Architecture: "mixtral", HiddenSize: 64, IntermediateSize: 128, NumLayers: 4, NumHeads: 4, NumKVHeads: 2,
				HeadDim: 16, VocabSize: 304, RMSNormEps: 1e-6, RopeTheta: 1e6, MaxPositionEmbeddings: 131072,
				MoE: &modelfile.MoE{Experts: 8, TopK: 2, IntermediateSize: 128, NormTopKProb: true}}},
		{"mixtral sliding_window", `{"model_type": "mixtral", "num_key_value_heads": 2, "num_local_experts": 4, "num_experts_per_tok": 1,
			"sliding_window": 4096, "tie_word_embeddings": false, ` + moeFields + `}`,
			modelfile.Config{Architecture: "mixtral", HiddenSize: 64, IntermediateSize: 128, NumLayers: 4, NumHeads: 4, NumKVHeads: 2,
				HeadDim: 16, VocabSize: 304, RMSNormEps: 1e-6, RopeTheta: 1e6, MaxPositionEmbeddings: 131072, LayerWindows: []int{4096, 4096, 4096, 4096},
				MoE: &modelfile.MoE{Experts: 4, TopK: 1, IntermediateSize: 128, NormTopKProb: true}}},
		{"gpt_oss as its config.json", `{"model_type": "gpt_oss", "num_key_value_heads": 2, "head_dim": 16, "num_local_experts": 32,
			"num_experts_per_tok": 4, "experts_per_token": 4, "sliding_window": 128, "swiglu_limit": 7.0, "attention_bias": true,
			"layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"], "tie_word_embeddings": false,
			"rope_theta": 150000, "max_position_embeddings": 131072,
			"rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0, "original_max_position_embeddings": 4096, "rope_type": "yarn", "truncate": false},
			"quantization": {"group_size": 64, "bits": 8, "model.layers.0.mlp.experts.gate_proj": {"group_size": 32, "bits": 4, "mode": "mxfp4"}}, ` + moeFields + `}`,
			modelfile.Config{Architecture: "gpt_oss", HiddenSize: 64, IntermediateSize: 128, NumLayers: 4, NumHeads: 4, NumKVHeads: 2,
				HeadDim: 16, VocabSize: 304, RMSNormEps: 1e-6, RopeTheta: 150000, MaxPositionEmbeddings: 131072, AttentionBias: true,
				RopeScaling:  &modelfile.RopeScaling{Type: "yarn", Factor: 32, BetaFast: 32, BetaSlow: 1, OriginalMaxPositionEmbeddings: 4096, NoTruncate: true},
				LayerWindows: []int{128, 0, 128, 0}, AttentionSinks: true, Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 8},
				MoE: &modelfile.MoE{Experts: 32, TopK: 4, IntermediateSize: 128, NormTopKProb: true, SwiGLULimit: 7}}},
		{"gpt_oss default layer_types alternate", `{"model_type": "gpt_oss", "num_key_value_heads": 2, "head_dim": 16, "num_local_experts": 4,
			"experts_per_token": 2, "tie_word_embeddings": false, ` + moeFields + `}`,
			modelfile.Config{Architecture: "gpt_oss", HiddenSize: 64, IntermediateSize: 128, NumLayers: 4, NumHeads: 4, NumKVHeads: 2,
				HeadDim: 16, VocabSize: 304, RMSNormEps: 1e-6, RopeTheta: 150000, MaxPositionEmbeddings: 131072, AttentionBias: true,
				LayerWindows: []int{128, 0, 128, 0}, AttentionSinks: true,
				MoE: &modelfile.MoE{Experts: 4, TopK: 2, IntermediateSize: 128, NormTopKProb: true, SwiGLULimit: 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := modelfile.ReadConfig(writeFiles(t, map[string]string{"config.json": tt.config}))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("config (-want +got):\n%s", d)
			}
		})
	}
}

func TestReadConfig_MoEErrors(t *testing.T) {
	gpt := `{"model_type": "gpt_oss", "num_key_value_heads": 2, "head_dim": 16, "num_local_experts": 4, "num_experts_per_tok": 2, `
	testConfigErrors(t, []configError{
		{"qwen3_moe without num_experts", `{"model_type": "qwen3_moe", "num_key_value_heads": 2, "head_dim": 32, "rope_theta": 1e6,
			"max_position_embeddings": 4096, "num_experts_per_tok": 2, "moe_intermediate_size": 32, ` + moeFields + `}`, modelfile.ErrInvalidConfig, "num_experts"},
		{"more experts per token than experts", `{"model_type": "mixtral", "num_local_experts": 2, "num_experts_per_tok": 3, ` + moeFields + `}`,
			modelfile.ErrInvalidConfig, "num_experts_per_tok"},
		{"gpt_oss layer_types count", gpt + `"layer_types": ["full_attention"], ` + moeFields + `}`, modelfile.ErrInvalidConfig, "layer_types"},
		{"gpt_oss unknown layer type", gpt + `"layer_types": ["full_attention", "x", "full_attention", "full_attention"], ` + moeFields + `}`,
			modelfile.ErrUnsupported, "layer_types"},
		{"yarn mscale", gpt + `"rope_scaling": {"rope_type": "yarn", "factor": 32, "original_max_position_embeddings": 4096, "mscale": 0.7}, ` + moeFields + `}`,
			modelfile.ErrUnsupported, "rope_scaling.mscale"},
		{"mxfp4 8 bits", gpt + `"quantization": {"group_size": 32, "bits": 8, "mode": "mxfp4"}, ` + moeFields + `}`, modelfile.ErrInvalidConfig, "quantization.mode"},
		{"qwen3_moe sliding window", `{"model_type": "qwen3_moe", "num_key_value_heads": 2, "head_dim": 32, "rope_theta": 1e6,
			"max_position_embeddings": 4096, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
			"use_sliding_window": true, "sliding_window": 4096, ` + moeFields + `}`, modelfile.ErrUnsupported, "use_sliding_window"},
		{"mixtral num_local_experts type", `{"model_type": "mixtral", "num_local_experts": "eight", ` + moeFields + `}`, modelfile.ErrInvalidConfig, "num_local_experts"},
		{"mixtral bad sliding_window", `{"model_type": "mixtral", "sliding_window": -1, ` + moeFields + `}`, modelfile.ErrInvalidConfig, "sliding_window"},
	})
}

// TestQuantizeMXFP4Row checks the packing and the scale choice against
// MLX's mxfp4 definition on hand-computed groups.
func TestQuantizeMXFP4Row(t *testing.T) {
	row := make([]float32, 64)
	// Group 0: max |w| = 3 → e = round(log2(3/6)) = -1, codes for w/0.5.
	copy(row, []float32{0, 0.25, 0.5, -0.75, 1, 1.5, 2, 3, -3, 0.3})
	// Group 1: all zero → e = 0, every code 0.
	packed, scales := make([]uint32, 8), make([]byte, 2)
	if err := modelfile.QuantizeMXFP4Row(row, packed, scales); err != nil {
		t.Fatal(err)
	}
	if scales[0] != 126 || scales[1] != 127 {
		t.Errorf("scales = %v, want [126 127]", scales)
	}
	// w/0.5 = 0, 0.5, 1, -1.5, 2, 3, 4, 6 → codes 0, 1, 2, 11, 4, 5, 6, 7;
	// then -6 → 15 and 0.6 → 1 (0.5 is nearer than 1).
	if want := uint32(0x765_4B210); packed[0] != want {
		t.Errorf("word 0 = %#08x, want %#08x", packed[0], want)
	}
	if want := uint32(0x1F); packed[1] != want {
		t.Errorf("word 1 = %#08x, want %#08x", packed[1], want)
	}
	for i, w := range packed[4:] {
		if w != 0 {
			t.Errorf("zero group word %d = %#x", i, w)
		}
	}
	if err := modelfile.QuantizeMXFP4Row(row[:40], packed, scales); err == nil {
		t.Error("a row of 40 values: no error")
	}
}
