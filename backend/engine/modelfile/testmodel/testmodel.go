// Package testmodel writes tiny random-weight models in MLX format for
// tests and benchmarks: config.json, generation_config.json, a byte-level
// BPE tokenizer.json with tokenizer_config.json, and safetensors weights
// (float16, bfloat16 or float32, or quantized as mlx-lm does), in one file
// or two shards with an index. Weights are deterministic for a Spec and
// seed, so tests can regenerate the float32 originals with Original.
// Nothing is downloaded.
package testmodel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// Spec describes a model to write. The zero value is a tiny bfloat16
// llama; zero fields take the defaults their comments give.
type Spec struct {
	Architecture          string                  // "llama" (default), "mistral", "qwen2", "qwen3"; "qwen3_moe", "mixtral", "gpt_oss" (moe.go)
	HiddenSize            int                     // 64
	IntermediateSize      int                     // 128
	NumLayers             int                     // 2
	NumHeads              int                     // 4
	NumKVHeads            int                     // 2
	HeadDim               int                     // HiddenSize/NumHeads; qwen2 allows no other
	VocabSize             int                     // TokenizerSize; never less
	MaxPositionEmbeddings int                     // 2048
	RopeTheta             float64                 // 10000 (llama, mistral), 1000000 (qwen2, qwen3, qwen3_moe, mixtral), 150000 (gpt_oss)
	RopeScaling           *modelfile.RopeScaling  // Llama 3 scaling; Type defaults to "llama3"
	RMSNormEps            float64                 // 1e-5
	TieWordEmbeddings     bool                    // no lm_head: the output uses the embedding
	AttentionBias         bool                    // llama, mistral: biases on q/k/v/o_proj (qwen2 always has q/k/v)
	MLPBias               bool                    // llama, mistral: biases on gate/up/down_proj
	DType                 modelfile.DType         // BF16: float weights, norms, biases, scales
	Quantization          *modelfile.Quantization // nil: unquantized
	Shards                int                     // 1, or 2 with model.safetensors.index.json
	Seed                  uint64                  // weights are a function of Seed and tensor name

	// SlidingWindow is gemma3's local layers' window (default 4), phi3's
	// and mixtral's on every layer (0: none), gpt_oss's on every other
	// layer from the first (default 128).
	SlidingWindow int

	// Added for gemma3, phi3 and smollm3 (issue 16, dense); see dense.go.
	SlidingWindowPattern  int     // gemma3: every n-th layer is global (default 2)
	FinalLogitSoftcapping float64 // gemma3: 0 writes null
	PartialRotaryFactor   float64 // phi3: 0 leaves it out (1)
	NoRopeLayers          string  // smollm3: no_rope_layers as digits, "1" = RoPE, "0" = NoPE per layer ("101"); "" leaves it out (every 4th layer NoPE)
	// Added for mixture-of-experts (issue 16): architectures "qwen3_moe",
	// "mixtral" and "gpt_oss" (see moe.go).
	NumExperts          int    // 4
	ExpertsPerTok       int    // 2
	MoEIntermediateSize int    // qwen3_moe's moe_intermediate_size: IntermediateSize/2
	MLPOnlyLayers       uint64 // qwen3_moe's mlp_only_layers: layer i is dense when bit i is set (a mask keeps Spec comparable)
	ExpertsMXFP4        bool   // gpt_oss: experts in mxfp4, the rest as Quantization says (required)
}

// Realistic is the shape of Qwen2.5-0.5B-Instruct as mlx-community
// publishes it at 4 bits (hidden 896, 24 layers, 14 heads, 2 KV heads,
// intermediate 4864, vocabulary 151936, tied embeddings, 4-bit group 64,
// bfloat16 scales): about 0.5B parameters and 280 MB on disk, for
// benchmarks. Write streams it without holding the weights in memory.
func Realistic() Spec {
	return Spec{
		Architecture: "qwen2", HiddenSize: 896, IntermediateSize: 4864, NumLayers: 24,
		NumHeads: 14, NumKVHeads: 2, VocabSize: 151936, MaxPositionEmbeddings: 32768,
		RopeTheta: 1e6, RMSNormEps: 1e-6, TieWordEmbeddings: true, DType: modelfile.BF16,
		Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 4},
	}
}

// withDefaults fills s's zero fields.
func (s Spec) withDefaults() Spec {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if s.Architecture == "" {
		s.Architecture = "llama"
	}
	def(&s.HiddenSize, 64)
	def(&s.IntermediateSize, 128)
	def(&s.NumLayers, 2)
	def(&s.NumHeads, 4)
	def(&s.NumKVHeads, 2)
	def(&s.HeadDim, s.HiddenSize/max(s.NumHeads, 1))
	def(&s.VocabSize, TokenizerSize)
	def(&s.MaxPositionEmbeddings, 2048)
	def(&s.Shards, 1)
	if s.RopeTheta == 0 {
		s.RopeTheta = 10000
		if s.Architecture == "qwen2" || s.Architecture == "qwen3" || s.Architecture == "qwen3_moe" || s.Architecture == "mixtral" {
			s.RopeTheta = 1e6
		}
		if s.Architecture == "gpt_oss" {
			s.RopeTheta = 150000
		}
	}
	if s.RMSNormEps == 0 {
		s.RMSNormEps = 1e-5
	}
	if s.DType == "" {
		s.DType = modelfile.BF16
	}
	s = s.moeDefaults()
	if s.RopeScaling != nil && s.RopeScaling.Type == "" {
		rs := *s.RopeScaling
		rs.Type = "llama3"
		s.RopeScaling = &rs
	}
	return s
}

// validate rejects specs Write cannot express.
func (s Spec) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	a := s.Architecture
	check(a == "llama" || a == "mistral" || a == "qwen2" || a == "qwen3" || denseArch(a) || moeArch(a), "architecture %q", a)
	errs = append(errs, s.validateMoE()...)
	check(s.HiddenSize > 0 && s.IntermediateSize > 0 && s.NumLayers > 0 && s.NumHeads > 0 && s.NumKVHeads > 0, "sizes must be positive")
	check(s.NumKVHeads > 0 && s.NumHeads%s.NumKVHeads == 0, "NumKVHeads %d does not divide NumHeads %d", s.NumKVHeads, s.NumHeads)
	check(s.HeadDim > 0 && s.HeadDim%2 == 0, "HeadDim %d must be positive and even", s.HeadDim)
	check(a != "qwen2" || s.HeadDim*s.NumHeads == s.HiddenSize, "qwen2 needs HeadDim = HiddenSize/NumHeads")
	check(s.VocabSize >= TokenizerSize, "VocabSize %d is below the tokenizer's %d tokens", s.VocabSize, TokenizerSize)
	check(s.DType == modelfile.F32 || s.DType == modelfile.F16 || s.DType == modelfile.BF16, "DType %q", s.DType)
	check(s.Shards == 1 || s.Shards == 2, "Shards %d: want 1 or 2", s.Shards)
	check(strings.Trim(s.NoRopeLayers, "01") == "", "NoRopeLayers %q: want digits 0 and 1", s.NoRopeLayers)
	check(!(s.AttentionBias || s.MLPBias) || a == "llama" || a == "mistral" || (a == "gpt_oss" && !s.MLPBias), "AttentionBias and MLPBias are for llama and mistral (gpt_oss always has AttentionBias)")
	if rs := s.RopeScaling; rs != nil {
		check(rs.Type == "llama3" || (denseArch(a) && (rs.Type == "linear" || rs.Type == "longrope")) || (rs.Type == "yarn" && a == "gpt_oss"),
			"RopeScaling type %q: want llama3 (gemma3, phi3: linear; phi3: longrope; gpt_oss: yarn)", rs.Type)
	}
	if q := s.Quantization; q != nil {
		check(q.Bits == 4 || q.Bits == 8, "quantization bits %d", q.Bits)
		check(q.GroupSize == 32 || q.GroupSize == 64 || q.GroupSize == 128, "quantization group size %d", q.GroupSize)
	}
	return errors.Join(errs...)
}

// Write writes the model s describes into dir (created if needed): its
// config, generation config, tokenizer and weights.
func Write(dir string, s Spec) error {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return fmt.Errorf("testmodel: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]any{
		modelfile.ConfigFile:           s.config(),
		modelfile.GenerationConfigFile: generationConfig(),
		"tokenizer.json":               tokenizerJSON(s.Architecture),
		"tokenizer_config.json":        tokenizerConfig(s),
	}
	for _, name := range []string{modelfile.ConfigFile, modelfile.GenerationConfigFile, "tokenizer.json", "tokenizer_config.json"} {
		if err := writeJSON(filepath.Join(dir, name), files[name]); err != nil {
			return err
		}
	}
	return s.writeWeights(dir)
}

// config is config.json as transformers and mlx-lm write it.
func (s Spec) config() map[string]any {
	classes := map[string]string{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM",
		"qwen3_moe": "Qwen3MoeForCausalLM", "mixtral": "MixtralForCausalLM", "gpt_oss": "GptOssForCausalLM"}
	dtypes := map[modelfile.DType]string{modelfile.F32: "float32", modelfile.F16: "float16", modelfile.BF16: "bfloat16"}
	c := map[string]any{
		"architectures": []string{classes[s.Architecture]}, "model_type": s.Architecture,
		"hidden_size": s.HiddenSize, "intermediate_size": s.IntermediateSize, "num_hidden_layers": s.NumLayers,
		"num_attention_heads": s.NumHeads, "num_key_value_heads": s.NumKVHeads, "vocab_size": s.VocabSize,
		"max_position_embeddings": s.MaxPositionEmbeddings, "rms_norm_eps": s.RMSNormEps, "rope_theta": s.RopeTheta,
		"tie_word_embeddings": s.TieWordEmbeddings, "torch_dtype": dtypes[s.DType], "hidden_act": "silu",
		"bos_token_id": BeginOfText, "eos_token_id": s.eos(),
	}
	if s.Architecture != "qwen2" {
		c["head_dim"] = s.HeadDim
	}
	if s.Architecture == "llama" || s.Architecture == "mistral" {
		c["attention_bias"], c["mlp_bias"] = s.AttentionBias, s.MLPBias
	}
	if s.RopeScaling != nil {
		c["rope_scaling"] = s.RopeScaling
	}
	if q := s.Quantization; q != nil {
		params := map[string]any{"group_size": q.GroupSize, "bits": q.Bits, "mode": "affine"}
		if q.Mode != "" {
			params["mode"] = q.Mode // issue 16: "mxfp4"
		}
		c["quantization"], c["quantization_config"] = params, params
	}
	s.moeConfig(c)
	return s.denseConfig(c)
}

// eos is config.json's end-of-sequence token: Llama 3's <|eot_id|> for
// llama and mistral, <|im_end|> for the Qwens.
func (s Spec) eos() int {
	if s.Architecture == "qwen2" || s.Architecture == "qwen3" || s.Architecture == "qwen3_moe" {
		return IMEnd
	}
	return EOT
}

// generationConfig lists both end tokens, so a reader must merge them.
func generationConfig() map[string]any {
	return map[string]any{"bos_token_id": BeginOfText, "eos_token_id": []int{IMEnd, EOT}}
}
