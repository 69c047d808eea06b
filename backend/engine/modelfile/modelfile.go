// Package modelfile reads MLX-format models from disk: config.json,
// generation_config.json, the tokenizer files and the safetensors weights
// (one file or several with an index), quantized (MLX affine, 4 or 8 bit)
// or not (float16, bfloat16, float32). It also finds models in modelbar's
// models directory and the Hugging Face cache. It knows nothing of tensors'
// arithmetic: the engine's backends turn Tensors into their own arrays.
package modelfile

import "slices"

// DType is a safetensors element type.
type DType string

const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	U32  DType = "U32" // packed quantized weights
	I32  DType = "I32"
	U8   DType = "U8"
)

// Size is the byte size of one element.
func (d DType) Size() int {
	switch d {
	case F32, U32, I32:
		return 4
	case F16, BF16:
		return 2
	case U8:
		return 1
	}
	return 0
}

// Tensor is one named array as stored: little-endian elements, row-major.
// Data may be a view of a memory-mapped file: it is valid until the Model
// that returned it is closed, and must not be written.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
	// File is the safetensors file the tensor was read from ("" for one
	// built in memory): a backend with a loader of its own (MLX) may read
	// it from there instead of from Data.
	File string
}

// Quantization is MLX's affine quantization of a model's linear and
// embedding layers: each row is cut into groups of GroupSize values, each
// value stored in Bits bits (packed little-endian into uint32 words, the
// first value in the lowest bits), and dequantized as scale*q + bias with
// the group's scale and bias (tensors "<name>.scales" and "<name>.biases"
// next to "<name>.weight").
type Quantization struct {
	GroupSize int `json:"group_size"`
	Bits      int `json:"bits"`
	// Mode is "" or "affine" for the affine quantization above, or
	// "mxfp4" (added for issue 16's gpt-oss experts): 4-bit E2M1 values in
	// groups of 32 with one U8 E8M0 scale each and no biases.
	Mode string `json:"mode,omitempty"`
}

// RopeScaling is a RoPE scaling of rope_scaling: Llama 3's
// frequency-dependent one ("llama3"), "linear" (gemma3) or phi3's
// "longrope", or YaRN ("yarn", gpt-oss); other kinds are refused.
type RopeScaling struct {
	Type                          string  `json:"rope_type"`
	Factor                        float64 `json:"factor"`
	LowFreqFactor                 float64 `json:"low_freq_factor"`
	HighFreqFactor                float64 `json:"high_freq_factor"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings"`

	// Added for phi3 (issue 16, dense): "longrope" (also written "su")
	// divides the frequency of RoPE pair i by LongFactor[i] (and scales the
	// rotated values; see the llama package). ShortFactor is kept for
	// reference: mlx-lm uses the long factors at every length.
	ShortFactor []float64 `json:"short_factor"`
	LongFactor  []float64 `json:"long_factor"`

	// Added for mixture-of-experts (issue 16): YaRN ("yarn", gpt-oss) as
	// transformers' _compute_yarn_parameters reads it (Factor and
	// OriginalMaxPositionEmbeddings above are YaRN's too).
	BetaFast float64 `json:"beta_fast,omitempty"` // 32 when absent
	BetaSlow float64 `json:"beta_slow,omitempty"` // 1 when absent
	// NoTruncate is the config's "truncate": false (the correction range
	// is then not rounded to whole dimensions).
	NoTruncate bool `json:"-"`
}

// Config is the part of config.json (and generation_config.json) that the
// Llama-family forward pass and generation need, validated and with
// defaults applied the way mlx-lm applies them.
type Config struct {
	Architecture          string // model_type: "llama", "mistral", "qwen2", "qwen3", "gemma3", "gemma3_text", "phi3", "smollm3", ...
	HiddenSize            int
	IntermediateSize      int
	NumLayers             int
	NumHeads              int
	NumKVHeads            int // grouped-query attention; = NumHeads when absent
	HeadDim               int // = HiddenSize / NumHeads when absent
	VocabSize             int
	RMSNormEps            float64
	RopeTheta             float64 // 10000 when absent
	RopeScaling           *RopeScaling
	MaxPositionEmbeddings int  // the context length
	TieWordEmbeddings     bool // the output projection is the embedding matrix
	AttentionBias         bool // q/k/v projections have biases (qwen2: true)
	QKNorm                bool // per-head RMSNorm of q and k (qwen3)
	// LayerWindows is each layer's sliding attention window in positions
	// (0: the layer attends to the whole context); nil when no layer has
	// one. Filled from sliding_window, use_sliding_window,
	// max_window_layers, layer_types and the like, per architecture.
	LayerWindows []int
	Quantization *Quantization
	BOSTokenID   *int
	EOSTokenIDs  []int // from config.json and generation_config.json, merged

	// Added for gemma3, phi3 and smollm3 (issue 16, dense).

	// LayerNoRope marks the layers that have no rotary position embedding
	// (smollm3's NoPE layers); nil when every layer has RoPE.
	LayerNoRope []bool
	// RotaryDims is how many values of each head RoPE turns (phi3's
	// head_dim·partial_rotary_factor); 0 means all HeadDim of them.
	RotaryDims int
	// QueryPreAttnScalar, when positive, makes the attention scale
	// QueryPreAttnScalar^-0.5 instead of HeadDim^-0.5 (gemma3).
	QueryPreAttnScalar float64
	// RopeLocalTheta, when positive, is the RoPE base of the layers with a
	// sliding window, which also take no RopeScaling (gemma3's
	// rope_local_base_freq).
	RopeLocalTheta float64
	// FinalLogitSoftcap, when positive, turns the logits into
	// c·tanh(logits/c) (gemma3's final_logit_softcapping).
	FinalLogitSoftcap float64

	// Added for mixture-of-experts (issue 16).

	// MoE describes the sparse MLP layers; nil for a dense model.
	MoE *MoE
	// AttentionSinks: every layer has per-head attention sinks
	// ("self_attn.sinks", gpt-oss).
	AttentionSinks bool
}

// MoE is the mixture-of-experts configuration (issue 16) of qwen3_moe,
// mixtral and gpt_oss.
type MoE struct {
	Experts          int // num_experts (qwen3_moe), num_local_experts (mixtral, gpt_oss)
	TopK             int // num_experts_per_tok
	IntermediateSize int // each expert's: moe_intermediate_size (qwen3_moe) or intermediate_size
	// NormTopKProb renormalizes the chosen experts' softmax weights to sum
	// to 1 (qwen3_moe's norm_topk_prob; always for mixtral and gpt_oss).
	NormTopKProb bool
	// DenseLayers lists the layers whose MLP is dense (qwen3_moe's
	// mlp_only_layers and decoder_sparse_step); nil when every layer is
	// sparse. Their dense MLP has IntermediateSize of Config.
	DenseLayers []int
	// SwiGLULimit, when positive, selects gpt-oss's clamped SwiGLU with
	// this limit (swiglu_limit) and its expert and router biases.
	SwiGLULimit float64
}

// Sparse reports whether layer i's MLP is a mixture of experts.
func (m *MoE) Sparse(i int) bool { return m != nil && !slices.Contains(m.DenseLayers, i) }

// Weights gives a model's tensors by name (as in the safetensors files:
// "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
// "...q_proj.scales", "lm_head.weight", ...).
type Weights interface {
	Tensor(name string) (Tensor, bool)
}
