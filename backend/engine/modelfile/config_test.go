package modelfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// writeFiles writes name → content files into a new temp dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func intp(v int) *int { return &v }

const baseFields = `"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 304, "rms_norm_eps": 1e-5`

func TestReadConfig_Defaults(t *testing.T) {
	llama := modelfile.Config{Architecture: "llama", HiddenSize: 64, IntermediateSize: 128, NumLayers: 2, NumHeads: 4,
		NumKVHeads: 4, HeadDim: 16, VocabSize: 304, RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 2048,
		TieWordEmbeddings: true}
	with := func(f func(c *modelfile.Config)) modelfile.Config {
		c := llama
		f(&c)
		return c
	}
	tests := []struct {
		name, config, generation string
		want                     modelfile.Config
	}{
		{"llama defaults as mlx-lm", `{"model_type": "llama", ` + baseFields + `}`, "", llama},
		{"mistral", `{"model_type": "mistral", "num_key_value_heads": 2, "tie_word_embeddings": false, ` + baseFields + `}`, "",
			with(func(c *modelfile.Config) {
				c.Architecture, c.NumKVHeads, c.MaxPositionEmbeddings, c.TieWordEmbeddings = "mistral", 2, 131072, false
			})},
		{"llama head_dim given", `{"model_type": "llama", "head_dim": 32, ` + baseFields + `}`, "",
			with(func(c *modelfile.Config) { c.HeadDim = 32 })},
		{"qwen2 defaults: biases, theta 1e6, 32768 positions, head_dim ignored",
			`{"model_type": "qwen2", "num_key_value_heads": 2, "head_dim": 99, ` + baseFields + `}`, "",
			with(func(c *modelfile.Config) {
				c.Architecture, c.NumKVHeads, c.RopeTheta, c.MaxPositionEmbeddings, c.AttentionBias = "qwen2", 2, 1e6, 32768, true
			})},
		{"qwen3 q/k norm", `{"model_type": "qwen3", "num_key_value_heads": 2, "head_dim": 32, "rope_theta": 1000000,
			"max_position_embeddings": 40960, "tie_word_embeddings": true, "attention_bias": false, ` + baseFields + `}`, "",
			with(func(c *modelfile.Config) {
				c.Architecture, c.NumKVHeads, c.HeadDim, c.RopeTheta, c.MaxPositionEmbeddings, c.QKNorm = "qwen3", 2, 32, 1e6, 40960, true
			})},
		{"llama3 rope_scaling, defaults filled", `{"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 32}, ` + baseFields + `}`, "",
			with(func(c *modelfile.Config) {
				c.RopeScaling = &modelfile.RopeScaling{Type: "llama3", Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}
			})},
		{"rope_scaling type wins over rope_type", `{"model_type": "llama", "rope_scaling": {"type": "llama3", "rope_type": "yarn", "factor": 8,
			"low_freq_factor": 2, "high_freq_factor": 8, "original_max_position_embeddings": 4096}, ` + baseFields + `}`, "",
			with(func(c *modelfile.Config) {
				c.RopeScaling = &modelfile.RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 2, HighFreqFactor: 8, OriginalMaxPositionEmbeddings: 4096}
			})},
		{"rope_scaling default is none", `{"model_type": "llama", "rope_scaling": {"rope_type": "default"}, ` + baseFields + `}`, "", llama},
		{"rope_parameters of newer transformers", `{"model_type": "llama", "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000, "factor": 32}, ` + baseFields + `}`, "",
			with(func(c *modelfile.Config) {
				c.RopeTheta = 500000
				c.RopeScaling = &modelfile.RopeScaling{Type: "llama3", Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}
			})},
		{"quantization", `{"model_type": "llama", "quantization": {"group_size": 64, "bits": 4, "mode": "affine"}, ` + baseFields + `}`, "",
			with(func(c *modelfile.Config) { c.Quantization = &modelfile.Quantization{GroupSize: 64, Bits: 4} })},
		{"quantization_config alone", `{"model_type": "llama", "quantization_config": {"group_size": 32, "bits": 8}, ` + baseFields + `}`, "",
			with(func(c *modelfile.Config) { c.Quantization = &modelfile.Quantization{GroupSize: 32, Bits: 8} })},
		{"eos list merged with generation_config, bos from it", `{"model_type": "llama", "eos_token_id": [1, 2], ` + baseFields + `}`,
			`{"bos_token_id": 7, "eos_token_id": [2, 3]}`,
			with(func(c *modelfile.Config) { c.BOSTokenID, c.EOSTokenIDs = intp(7), []int{1, 2, 3} })},
		{"eos int, config's bos kept", `{"model_type": "llama", "eos_token_id": 5, "bos_token_id": 1, ` + baseFields + `}`,
			`{"bos_token_id": 7, "eos_token_id": 6}`,
			with(func(c *modelfile.Config) { c.BOSTokenID, c.EOSTokenIDs = intp(1), []int{5, 6} })},
		{"broken generation_config ignored as mlx-lm does", `{"model_type": "llama", "eos_token_id": 5, ` + baseFields + `}`, `{"eos_token_id": [`,
			with(func(c *modelfile.Config) { c.EOSTokenIDs = []int{5} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"config.json": tt.config}
			if tt.generation != "" {
				files["generation_config.json"] = tt.generation
			}
			got, err := modelfile.ReadConfig(writeFiles(t, files))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadConfig_Errors(t *testing.T) {
	testConfigErrors(t, []configError{
		{"unsupported architecture", `{"model_type": "gemma2", ` + baseFields + `}`, modelfile.ErrUnsupported, "model_type"},
		{"no model_type", `{` + baseFields + `}`, modelfile.ErrInvalidConfig, "model_type"},
		{"not JSON", `{"model_type": `, modelfile.ErrInvalidConfig, ""},
		{"wrong JSON type", `{"model_type": "llama", "hidden_size": "64"}`, modelfile.ErrInvalidConfig, "hidden_size"},
		{"missing hidden_size", `{"model_type": "llama", "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 304, "rms_norm_eps": 1e-5}`,
			modelfile.ErrInvalidConfig, "hidden_size"},
		{"zero layers", `{"model_type": "llama", ` + strings.Replace(baseFields, `"num_hidden_layers": 2`, `"num_hidden_layers": 0`, 1) + `}`,
			modelfile.ErrInvalidConfig, "num_hidden_layers"},
		{"no rms_norm_eps", `{"model_type": "llama", ` + strings.Replace(baseFields, `, "rms_norm_eps": 1e-5`, ``, 1) + `}`,
			modelfile.ErrInvalidConfig, "rms_norm_eps"},
		{"heads do not divide hidden", `{"model_type": "llama", ` + strings.Replace(baseFields, `"num_attention_heads": 4`, `"num_attention_heads": 5`, 1) + `}`,
			modelfile.ErrInvalidConfig, "num_attention_heads"},
		{"kv heads do not divide heads", `{"model_type": "llama", "num_key_value_heads": 3, ` + baseFields + `}`, modelfile.ErrInvalidConfig, "num_key_value_heads"},
		{"odd head_dim", `{"model_type": "llama", "head_dim": 15, ` + baseFields + `}`, modelfile.ErrInvalidConfig, "head_dim"},
		{"qwen2 needs num_key_value_heads", `{"model_type": "qwen2", ` + baseFields + `}`, modelfile.ErrInvalidConfig, "num_key_value_heads"},
		{"qwen3 needs head_dim", `{"model_type": "qwen3", "num_key_value_heads": 2, "rope_theta": 1e6, "max_position_embeddings": 4096, ` + baseFields + `}`,
			modelfile.ErrInvalidConfig, "head_dim"},
		{"yarn rope_scaling", `{"model_type": "qwen2", "num_key_value_heads": 2, "rope_scaling": {"type": "yarn", "factor": 4}, ` + baseFields + `}`,
			modelfile.ErrUnsupported, "rope_scaling.rope_type"},
		{"dynamic rope_scaling", `{"model_type": "llama", "rope_scaling": {"rope_type": "dynamic", "factor": 2}, ` + baseFields + `}`,
			modelfile.ErrUnsupported, "rope_scaling.rope_type"},
		{"linear rope_scaling without factor", `{"model_type": "llama", "rope_scaling": {"rope_type": "linear"}, ` + baseFields + `}`,
			modelfile.ErrInvalidConfig, "rope_scaling.factor"},
		{"llama3 without factor", `{"model_type": "llama", "rope_scaling": {"rope_type": "llama3"}, ` + baseFields + `}`,
			modelfile.ErrInvalidConfig, "rope_scaling.factor"},
		{"llama3 high <= low", `{"model_type": "llama", "rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 4, "high_freq_factor": 4}, ` + baseFields + `}`,
			modelfile.ErrInvalidConfig, "rope_scaling.high_freq_factor"},
		{"rope_scaling not an object", `{"model_type": "llama", "rope_scaling": 3, ` + baseFields + `}`, modelfile.ErrInvalidConfig, "rope_scaling"},
		{"3-bit", `{"model_type": "llama", "quantization": {"group_size": 64, "bits": 3}, ` + baseFields + `}`, modelfile.ErrUnsupported, "quantization.bits"},
		{"group 16", `{"model_type": "llama", "quantization": {"group_size": 16, "bits": 4}, ` + baseFields + `}`, modelfile.ErrUnsupported, "quantization.group_size"},
		{"mxfp4", `{"model_type": "llama", "quantization": {"group_size": 32, "bits": 4, "mode": "mxfp4"}, ` + baseFields + `}`, modelfile.ErrUnsupported, "quantization.mode"},
		{"awq", `{"model_type": "llama", "quantization_config": {"quant_method": "awq", "bits": 4}, ` + baseFields + `}`, modelfile.ErrUnsupported, "quantization_config.quant_method"},
		{"bad per-layer bits", `{"model_type": "llama", "quantization": {"group_size": 64, "bits": 4, "model.layers.0.mlp.down_proj": {"group_size": 64, "bits": 6}}, ` + baseFields + `}`,
			modelfile.ErrUnsupported, "quantization.model.layers.0.mlp.down_proj.bits"},
		{"rope_traditional", `{"model_type": "llama", "rope_traditional": true, ` + baseFields + `}`, modelfile.ErrUnsupported, "rope_traditional"},
		{"sliding layers without sliding_window", `{"model_type": "llama", "layer_types": ["full_attention", "sliding_attention"], ` + baseFields + `}`,
			modelfile.ErrInvalidConfig, "sliding_window"},
		{"chunked attention layers", `{"model_type": "llama", "sliding_window": 8, "layer_types": ["chunked_attention", "full_attention"], ` + baseFields + `}`,
			modelfile.ErrUnsupported, "layer_types"},
		{"layer_types of another depth", `{"model_type": "mistral", "sliding_window": 8, "layer_types": ["sliding_attention"], ` + baseFields + `}`,
			modelfile.ErrInvalidConfig, "layer_types"},
		{"zero sliding_window", `{"model_type": "mistral", "sliding_window": 0, ` + baseFields + `}`, modelfile.ErrInvalidConfig, "sliding_window"},
		{"sliding_window not a number", `{"model_type": "mistral", "sliding_window": "4k", ` + baseFields + `}`, modelfile.ErrInvalidConfig, "sliding_window"},
		{"eos not ids", `{"model_type": "llama", "eos_token_id": "x", ` + baseFields + `}`, modelfile.ErrInvalidConfig, "eos_token_id"},
	})
}

// configError is a config.json ReadConfig must refuse, and the error it
// must give: a *FieldError on field wrapping sentinel.
type configError struct {
	name, config string
	sentinel     error
	field        string
}

// testConfigErrors checks that ReadConfig refuses each config with a
// *FieldError that wraps the sentinel and names the file and the field,
// and a message that names the file.
func testConfigErrors(t *testing.T, tests []configError) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"config.json": tt.config})
			_, err := modelfile.ReadConfig(dir)
			var fe *modelfile.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, tt.sentinel) {
				t.Fatalf("err = %v, want a *FieldError wrapping %v", err, tt.sentinel)
			}
			if fe.Field != tt.field || fe.File != filepath.Join(dir, "config.json") {
				t.Errorf("error names %s field %q, want %s field %q", fe.File, fe.Field, "config.json", tt.field)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, "config.json")) {
				t.Errorf("message %q does not name the file", err)
			}
		})
	}
}

// openai/gpt-oss-20b as published (testdata: its config.json) keeps MXFP4
// in Hugging Face's layout; the error says that this is what fails and
// which download runs, not that MXFP4 is unsupported.
func TestReadConfig_HFMXFP4SaysToUseMLXConversion(t *testing.T) {
	_, err := modelfile.ReadConfig(filepath.Join("testdata", "gpt-oss-20b-hf"))
	var fe *modelfile.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, modelfile.ErrUnsupported) || fe.Field != "quantization_config.quant_method" {
		t.Fatalf("err = %v, want ErrUnsupported for quantization_config.quant_method", err)
	}
	for _, want := range []string{"Hugging Face layout", "*_blocks and *_scales", "MLX conversion", "mlx-community/gpt-oss-20b-MXFP4-Q8"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "only MLX affine") {
		t.Errorf("message %q still says MXFP4 is not supported at all", err)
	}
}

func TestReadConfig_NoConfig(t *testing.T) {
	_, err := modelfile.ReadConfig(t.TempDir())
	if !errors.Is(err, modelfile.ErrNoConfig) {
		t.Fatalf("err = %v, want ErrNoConfig", err)
	}
}

func TestReadConfig_UnsupportedArchitectureNamed(t *testing.T) {
	dir := writeFiles(t, map[string]string{"config.json": `{"model_type": "gemma2"}`})
	_, err := modelfile.ReadConfig(dir)
	if err == nil || !strings.Contains(err.Error(), `"gemma2"`) {
		t.Fatalf("err = %v, want it to name gemma2", err)
	}
	for _, arch := range modelfile.Architectures() {
		if !strings.Contains(err.Error(), arch) {
			t.Errorf("err = %v, want it to name the supported architecture %s", err, arch)
		}
	}
}

// TestReadConfig_Windows checks which layers slide, by how much, for each
// architecture's way of saying it (transformers' MistralConfig,
// Qwen2Config, Qwen3Config, Phi3Config and Gemma3TextConfig; mlx-lm's
// llama layer_types); gpt_oss's are in TestReadConfig_MoE.
func TestReadConfig_Windows(t *testing.T) {
	four := strings.Replace(baseFields, `"num_hidden_layers": 2`, `"num_hidden_layers": 4`, 1)
	qwen := func(model, extra string) string {
		return `{"model_type": "` + model + `", "num_key_value_heads": 2, "head_dim": 16, ` + extra + four + `}`
	}
	tests := []struct {
		name, config string
		want         []int
	}{
		{"mistral sliding_window: every layer", `{"model_type": "mistral", "sliding_window": 4096, ` + four + `}`, []int{4096, 4096, 4096, 4096}},
		{"mistral null sliding_window", `{"model_type": "mistral", "sliding_window": null, ` + four + `}`, nil},
		{"mistral without sliding_window", `{"model_type": "mistral", ` + four + `}`, nil},
		{"mistral layer_types", `{"model_type": "mistral", "sliding_window": 8, "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"], ` + four + `}`,
			[]int{8, 0, 8, 0}},
		{"llama layer_types", `{"model_type": "llama", "sliding_window": 16, "layer_types": ["full_attention", "sliding_attention", "sliding_attention", "full_attention"], ` + four + `}`,
			[]int{0, 16, 16, 0}},
		{"llama sliding_window without layer_types is ignored as mlx-lm does", `{"model_type": "llama", "sliding_window": 16, ` + four + `}`, nil},
		{"llama all full_attention", `{"model_type": "llama", "layer_types": ["full_attention", "full_attention", "full_attention", "full_attention"], ` + four + `}`, nil},
		{"qwen2 use_sliding_window false (Qwen2.5's configs)", qwen("qwen2", `"use_sliding_window": false, "sliding_window": 32768, "max_window_layers": 2, `), nil},
		{"qwen2 layers from max_window_layers on slide", qwen("qwen2", `"use_sliding_window": true, "sliding_window": 6, "max_window_layers": 1, `), []int{0, 6, 6, 6}},
		{"qwen2 default max_window_layers 28 leaves 4 layers full", qwen("qwen2", `"use_sliding_window": true, "sliding_window": 6, `), nil},
		{"qwen2 default sliding_window 4096", qwen("qwen2", `"use_sliding_window": true, "max_window_layers": 3, `), []int{0, 0, 0, 4096}},
		{"qwen2 null sliding_window: no window", qwen("qwen2", `"use_sliding_window": true, "sliding_window": null, "max_window_layers": 0, `), nil},
		{"qwen2 layer_types win over max_window_layers", qwen("qwen2", `"use_sliding_window": true, "sliding_window": 5, "max_window_layers": 3,
			"layer_types": ["sliding_attention", "full_attention", "full_attention", "sliding_attention"], `), []int{5, 0, 0, 5}},
		{"qwen2 layer_types without use_sliding_window: no window", qwen("qwen2", `"sliding_window": 5,
			"layer_types": ["sliding_attention", "full_attention", "full_attention", "sliding_attention"], `), nil},
		{"qwen3 as qwen2", qwen("qwen3", `"rope_theta": 1e6, "max_position_embeddings": 4096, "use_sliding_window": true, "sliding_window": 3, "max_window_layers": 2, `), []int{0, 0, 3, 3}},
		{"mixtral as mistral", `{"model_type": "mixtral", "sliding_window": 4, ` + four + `}`, []int{4, 4, 4, 4}},
		{"phi3 window inside the context: every layer", `{"model_type": "phi3", "sliding_window": 7, "max_position_embeddings": 8, ` + four + `}`, []int{7, 7, 7, 7}},
		{"phi3 window covering the context is dropped", `{"model_type": "phi3", "sliding_window": 8, "max_position_embeddings": 8, ` + four + `}`, nil},
		{"gemma3 every sliding_window_pattern-th layer global", `{"model_type": "gemma3_text", "sliding_window": 5, "sliding_window_pattern": 2, ` + four + `}`, []int{5, 0, 5, 0}},
		{"gemma3 sliding_window_pattern 1: all global", `{"model_type": "gemma3_text", "sliding_window_pattern": 1, ` + four + `}`, nil},
		{"gemma3 all full_attention", `{"model_type": "gemma3_text", "layer_types": ["full_attention", "full_attention", "full_attention", "full_attention"], ` + four + `}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := modelfile.ReadConfig(writeFiles(t, map[string]string{"config.json": tt.config}))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.LayerWindows); diff != "" {
				t.Errorf("LayerWindows (-want +got):\n%s", diff)
			}
		})
	}
}
