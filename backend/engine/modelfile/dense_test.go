package modelfile_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// Added for gemma3, phi3 and smollm3 (issue 16, dense).

// windows is n layers where every pattern-th is global and the others
// have window w.
func windows(n, pattern, w int) []int {
	out := make([]int, n)
	for i := range out {
		if (i+1)%pattern != 0 {
			out[i] = w
		}
	}
	return out
}

func factors(n int, v float64) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint(v)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func TestReadConfig_DenseFamilies(t *testing.T) {
	gemmaDefaults := modelfile.Config{Architecture: "gemma3_text", HiddenSize: 2304, IntermediateSize: 9216, NumLayers: 26,
		NumHeads: 8, NumKVHeads: 4, HeadDim: 256, VocabSize: 262208, RMSNormEps: 1e-6, RopeTheta: 1e6,
		MaxPositionEmbeddings: 131072, TieWordEmbeddings: true, QKNorm: true, LayerWindows: windows(26, 6, 4096),
		QueryPreAttnScalar: 256, RopeLocalTheta: 10000}
	// Gemma 3 4B's config.json (mlx-community 4-bit): text_config leaves
	// out what equals Gemma3TextConfig's defaults.
	gemma4B := gemmaDefaults
	gemma4B.Architecture, gemma4B.HiddenSize, gemma4B.IntermediateSize, gemma4B.NumLayers = "gemma3", 2560, 10240, 34
	gemma4B.LayerWindows = windows(34, 6, 1024)
	gemma4B.RopeScaling = &modelfile.RopeScaling{Type: "linear", Factor: 8}
	gemma4B.Quantization = &modelfile.Quantization{GroupSize: 64, Bits: 4}
	gemma4B.BOSTokenID, gemma4B.EOSTokenIDs = intp(2), []int{1, 106}
	gemma1B := gemmaDefaults
	gemma1B.HiddenSize, gemma1B.IntermediateSize, gemma1B.NumLayers, gemma1B.NumHeads, gemma1B.NumKVHeads = 1152, 6912, 3, 4, 1
	gemma1B.VocabSize, gemma1B.MaxPositionEmbeddings, gemma1B.FinalLogitSoftcap = 262144, 32768, 30
	gemma1B.LayerWindows = []int{0, 512, 0}
	phi35 := modelfile.Config{Architecture: "phi3", HiddenSize: 3072, IntermediateSize: 8192, NumLayers: 32, NumHeads: 32,
		NumKVHeads: 32, HeadDim: 96, VocabSize: 32064, RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 131072,
		RotaryDims: 96, RopeScaling: &modelfile.RopeScaling{Type: "longrope", OriginalMaxPositionEmbeddings: 4096,
			ShortFactor: make([]float64, 48), LongFactor: make([]float64, 48)}}
	for i := range 48 {
		phi35.RopeScaling.ShortFactor[i], phi35.RopeScaling.LongFactor[i] = 1, 2.5
	}
	phi4 := phi35
	phi4.HiddenSize, phi4.NumHeads, phi4.NumKVHeads, phi4.HeadDim, phi4.RotaryDims, phi4.TieWordEmbeddings = 3072, 24, 8, 128, 96, true
	phiMini := modelfile.Config{Architecture: "phi3", HiddenSize: 3072, IntermediateSize: 8192, NumLayers: 2, NumHeads: 32,
		NumKVHeads: 32, HeadDim: 96, VocabSize: 32064, RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 4096,
		RotaryDims: 96, LayerWindows: []int{2047, 2047}, TieWordEmbeddings: true}
	smol := modelfile.Config{Architecture: "smollm3", HiddenSize: 64, IntermediateSize: 128, NumLayers: 8, NumHeads: 4,
		NumKVHeads: 4, HeadDim: 16, VocabSize: 304, RMSNormEps: 1e-5, RopeTheta: 2e6, MaxPositionEmbeddings: 32768,
		TieWordEmbeddings: true, LayerNoRope: []bool{false, false, false, true, false, false, false, true}}
	smolListed := smol
	smolListed.NumLayers, smolListed.LayerNoRope = 3, []bool{true, false, false}
	smolAllRope := smolListed
	smolAllRope.LayerNoRope = nil
	smolLayers := strings.Replace(baseFields, `"num_hidden_layers": 2`, `"num_hidden_layers": 8`, 1)
	smol3 := strings.Replace(baseFields, `"num_hidden_layers": 2`, `"num_hidden_layers": 3`, 1)
	tests := []struct {
		name, config string
		want         modelfile.Config
	}{
		{"gemma3_text: Gemma3TextConfig's defaults", `{"model_type": "gemma3_text"}`, gemmaDefaults},
		{"gemma3: text_config of Gemma 3 4B, quantization and tokens at the top", `{"model_type": "gemma3",
			"architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": 255999, "eos_token_id": [1, 106],
			"quantization": {"group_size": 64, "bits": 4},
			"text_config": {"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text", "num_hidden_layers": 34,
				"rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "sliding_window": 1024, "bos_token_id": 2},
			"vision_config": {"hidden_size": 1152}}`, gemma4B},
		{"gemma3_text: layer_types win over the pattern; soft-capping", `{"model_type": "gemma3_text", "hidden_size": 1152,
			"intermediate_size": 6912, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 1, "vocab_size": 262144,
			"max_position_embeddings": 32768, "sliding_window": 512, "sliding_window_pattern": 6, "final_logit_softcapping": 30,
			"attn_logit_softcapping": null, "hidden_activation": "gelu_pytorch_tanh",
			"layer_types": ["full_attention", "sliding_attention", "full_attention"]}`, gemma1B},
		{"phi3: Phi-3.5-mini's longrope; a window past the context is dropped", `{"model_type": "phi3", "hidden_size": 3072,
			"intermediate_size": 8192, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32064,
			"rms_norm_eps": 1e-5, "max_position_embeddings": 131072, "original_max_position_embeddings": 4096, "sliding_window": 262144,
			"tie_word_embeddings": false, "rope_scaling": {"type": "longrope", "short_factor": ` + factors(48, 1) + `, "long_factor": ` + factors(48, 2.5) + `}}`, phi35},
		{"phi3: Phi-4-mini's partial rotary factor", `{"model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192,
			"num_hidden_layers": 32, "num_attention_heads": 24, "num_key_value_heads": 8, "vocab_size": 32064, "rms_norm_eps": 1e-5,
			"max_position_embeddings": 131072, "original_max_position_embeddings": 4096, "partial_rotary_factor": 0.75,
			"tie_word_embeddings": true, "rope_scaling": {"type": "longrope", "short_factor": ` + factors(48, 1) + `, "long_factor": ` + factors(48, 2.5) + `}}`, phi4},
		{"phi3: Phi-3-mini-4k's sliding window on every layer", `{"model_type": "phi3", "hidden_size": 3072, "intermediate_size": 8192,
			"num_hidden_layers": 2, "num_attention_heads": 32, "vocab_size": 32064, "rms_norm_eps": 1e-5, "max_position_embeddings": 4096,
			"sliding_window": 2047, "rope_scaling": null}`, phiMini},
		{"smollm3: every 4th layer NoPE by default", `{"model_type": "smollm3", ` + smolLayers + `}`, smol},
		{"smollm3: no_rope_layers (0 = NoPE), longer than the layers", `{"model_type": "smollm3", "no_rope_layers": [0, 1, 1, 1], ` + smol3 + `}`, smolListed},
		{"smollm3: all layers with RoPE", `{"model_type": "smollm3", "no_rope_layers": [1, 1, 1], ` + smol3 + `}`, smolAllRope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := modelfile.ReadConfig(writeFiles(t, map[string]string{"config.json": tt.config}))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadConfig_DenseErrors(t *testing.T) {
	phi := `"model_type": "phi3", "partial_rotary_factor": 0.5, ` + baseFields
	testConfigErrors(t, []configError{
		{"gemma3 attention soft-capping", `{"model_type": "gemma3_text", "attn_logit_softcapping": 50}`, modelfile.ErrUnsupported, "attn_logit_softcapping"},
		{"gemma3 nested field path", `{"model_type": "gemma3", "text_config": {"attn_logit_softcapping": 50}}`, modelfile.ErrUnsupported, "text_config.attn_logit_softcapping"},
		{"gemma3 nested JSON type", `{"model_type": "gemma3", "text_config": {"hidden_size": "big"}}`, modelfile.ErrInvalidConfig, "text_config.hidden_size"},
		{"gemma3 nested type of its own field", `{"model_type": "gemma3", "text_config": {"query_pre_attn_scalar": "big"}}`, modelfile.ErrInvalidConfig, "text_config.query_pre_attn_scalar"},
		{"phi3 type of its own field", `{"model_type": "phi3", "partial_rotary_factor": "half", ` + baseFields + `}`, modelfile.ErrInvalidConfig, "partial_rotary_factor"},
		{"gemma3 nested bad size", `{"model_type": "gemma3", "text_config": {"num_hidden_layers": 0}}`, modelfile.ErrInvalidConfig, "text_config.num_hidden_layers"},
		{"gemma3 other activation", `{"model_type": "gemma3_text", "hidden_activation": "gelu"}`, modelfile.ErrUnsupported, "hidden_activation"},
		{"gemma3 bidirectional", `{"model_type": "gemma3_text", "use_bidirectional_attention": true}`, modelfile.ErrUnsupported, "use_bidirectional_attention"},
		{"gemma3 layer_types length", `{"model_type": "gemma3_text", "num_hidden_layers": 2, "layer_types": ["full_attention"]}`, modelfile.ErrInvalidConfig, "layer_types"},
		{"gemma3 layer type", `{"model_type": "gemma3_text", "num_hidden_layers": 1, "layer_types": ["chunked_attention"]}`, modelfile.ErrUnsupported, "layer_types"},
		{"gemma3 zero window", `{"model_type": "gemma3_text", "sliding_window": 0}`, modelfile.ErrInvalidConfig, "sliding_window"},
		{"phi3 longrope factor count", `{` + phi + `, "rope_scaling": {"type": "su", "short_factor": [1, 1, 1, 1], "long_factor": [1, 2, 3]}}`,
			modelfile.ErrInvalidConfig, "rope_scaling.long_factor"},
		{"phi3 longrope without long_factor", `{` + phi + `, "rope_scaling": {"type": "longrope", "short_factor": [1, 1, 1, 1]}}`,
			modelfile.ErrInvalidConfig, "rope_scaling.long_factor"},
		{"phi3 longrope negative factor", `{` + phi + `, "rope_scaling": {"type": "longrope", "long_factor": [1, 1, -1, 1]}}`,
			modelfile.ErrInvalidConfig, "rope_scaling"},
		{"phi3 odd rotary dims", `{"model_type": "phi3", "partial_rotary_factor": 0.1, ` + baseFields + `}`, modelfile.ErrInvalidConfig, "partial_rotary_factor"},
		{"phi3 rotary factor above 1", `{"model_type": "phi3", "partial_rotary_factor": 1.5, ` + baseFields + `}`, modelfile.ErrInvalidConfig, "partial_rotary_factor"},
		{"longrope outside phi3", `{"model_type": "llama", "rope_scaling": {"type": "longrope", "long_factor": [1, 1, 1, 1, 1, 1, 1, 1]}, ` + baseFields + `}`,
			modelfile.ErrUnsupported, "rope_scaling.rope_type"},
		{"smollm3 short no_rope_layers", `{"model_type": "smollm3", "no_rope_layers": [1], ` + baseFields + `}`, modelfile.ErrInvalidConfig, "no_rope_layers"},
		{"smollm3 no_rope_layers value", `{"model_type": "smollm3", "no_rope_layers": [1, 2], ` + baseFields + `}`, modelfile.ErrInvalidConfig, "no_rope_layers"},
		{"smollm3 sliding window", `{"model_type": "smollm3", "use_sliding_window": true, ` + baseFields + `}`, modelfile.ErrUnsupported, "use_sliding_window"},
		{"smollm3 zero interval", `{"model_type": "smollm3", "no_rope_layer_interval": 0, ` + baseFields + `}`, modelfile.ErrInvalidConfig, "no_rope_layer_interval"},
	})
}

// TestOpen_Gemma3Nested: the text model's tensors are found under their
// flat names (read from the file's language_model. names), the vision
// tensors are skipped, and per-layer quantization written with the file's
// paths applies.
func TestOpen_Gemma3Nested(t *testing.T) {
	spec := testmodel.Spec{Architecture: "gemma3", Quantization: quant(4, 32)}
	m := openModel(t, writeModel(t, spec))
	tn, ok := m.Tensor("model.layers.1.self_attn.q_norm.weight")
	if !ok || tn.Name != "language_model.model.layers.1.self_attn.q_norm.weight" {
		t.Errorf("Tensor(model.layers.1.self_attn.q_norm.weight) = %q, %v; want the file's language_model. name", tn.Name, ok)
	}
	for _, name := range m.Names() {
		if strings.HasPrefix(name, "language_model.") || strings.HasPrefix(name, "vision_tower.") || strings.HasPrefix(name, "multi_modal_projector.") {
			t.Errorf("Names() has %s", name)
		}
	}
	if q, ok := m.LayerQuantization("model.layers.0.mlp.down_proj"); !ok || q != *quant(4, 32) {
		t.Errorf("LayerQuantization(model.layers.0.mlp.down_proj) = %v, %v", q, ok)
	}

	dir := writeModel(t, spec)
	editJSON(t, filepath.Join(dir, "config.json"), func(c map[string]any) {
		c["quantization"].(map[string]any)["language_model.model.layers.0.mlp.down_proj"] = map[string]any{"group_size": 64, "bits": 4}
	})
	_, err := modelfile.Open(dir)
	var te *modelfile.TensorError
	if !errors.As(err, &te) || te.Tensor != "model.layers.0.mlp.down_proj.scales" {
		t.Errorf("Open with a per-layer override the file does not follow: %v, want an error naming model.layers.0.mlp.down_proj.scales", err)
	}
}
