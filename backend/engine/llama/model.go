// Package llama is the Llama-family forward pass as mlx-lm defines it —
// llama, mistral (the same math), qwen2 (q/k/v biases) and qwen3 (per-head
// RMSNorm of q and k), and the families that differ from it in a few
// places, gemma3, phi3 and smollm3 (dense.go, phi3.go) — written once
// against tensor.Backend: grouped-query attention, RoPE with rope_theta
// and Llama 3 rope_scaling, SwiGLU MLPs, RMSNorm, tied or separate output
// embeddings, dense or MLX-quantized weights — and the mixture-of-experts
// models built on it: qwen3_moe, mixtral and gpt_oss (moe.go, gptoss.go).
package llama

import (
	"errors"
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// ErrContextFull is returned by Forward when the tokens do not fit in
// the cache.
var ErrContextFull = errors.New("llama: context full")

// Model is a loaded Llama-family model. Its methods are safe for
// concurrent use with distinct Caches: the backend serializes the work.
type Model struct {
	cfg    modelfile.Config
	b      tensor.Backend
	embed  tensor.Weight
	layers []layer
	norm   tensor.Weight
	lmHead tensor.Weight // = embed when the embeddings are tied
	rope   tensor.Rope
	eps    float32
	scale  float32         // 1/sqrt(head_dim)
	kvType modelfile.DType // what the KV caches store (see KVDType)

	owned []tensor.Resource // every resource, freed by Close

	// Added for gemma3, phi3 and smollm3 (issue 16, dense); see dense.go.
	act        func(tensor.Array) tensor.Array // the MLP's gate activation: SiLU, or gemma3's GELU-tanh
	embedScale float32                         // 0, or gemma3's sqrt(hidden_size) in the embedding's dtype
	softcap    float32                         // 0, or gemma3's final logit soft-capping

	// Argument buffers of linears, so a forward pass allocates nothing
	// (used inside the backend's Run, which serializes them).
	fusedW   [3]tensor.Weight
	fusedOut [3]tensor.Array
}

// layer is one transformer block.
type layer struct {
	attnNorm, mlpNorm tensor.Weight
	q, k, v, o        linear
	qNorm, kNorm      tensor.Weight // qwen3; nil otherwise
	gate, up, down    linear

	// Attention settings that may differ between layers.
	rope   tensor.Rope   // the layer's rotary embedding; nil: no position encoding (NoPE)
	window int           // sliding window in positions; 0: the whole context
	sinks  tensor.Weight // per-head attention sinks; nil: none

	// Added for gemma3 and phi3 (issue 16, dense).
	postAttnNorm, postMLPNorm tensor.Weight // gemma3: norms of the attention and MLP outputs; nil otherwise
	ropeHead                  int           // phi3: rope turns the first rope.Dims() of each ropeHead-wide head; 0: whole heads
	moe                       *moeLayer     // Added for mixture-of-experts (issue 16): nil for a dense MLP
}

// linear is a projection x·Wᵀ (+ bias).
type linear struct {
	w, bias tensor.Weight // bias may be nil
}

// Load loads the model described by cfg from w onto b. Errors name the
// missing or misshaped tensor. On error nothing stays loaded.
func Load(cfg modelfile.Config, w modelfile.Weights, b tensor.Backend) (*Model, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	inv, err := ropeFrequencies(rotaryDims(cfg), cfg.RopeTheta, cfg.RopeScaling)
	if err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg, b: b, eps: float32(cfg.RMSNormEps), scale: float32(1 / math.Sqrt(float64(cfg.HeadDim))), act: b.SiLU, kvType: kvDType(w)}
	m.scale *= float32(yarnAttentionScale(cfg.RopeScaling))
	l := &loader{w: w, b: b, m: m}
	if err := l.model(inv); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// KVDType is the element type of the model's KV caches: BF16 when the
// model's weights are BF16 (its dense tensors, or the scales of a
// quantized model), else F16 — the model's own type where it has one, as
// mlx-lm keeps its caches, and half the memory of float32 either way.
// Attention computes in float32 on the rounded keys and values.
func (m *Model) KVDType() modelfile.DType { return m.kvType }

// SetKVDType makes the caches created from now on store d (F16, BF16 or
// F32) instead of the model's own type: F32 for comparisons with a
// float64 reference, where half-precision rounding of a key that lies
// next to a rounding boundary would blur the comparison. Not safe for
// concurrent use with NewCache.
func (m *Model) SetKVDType(d modelfile.DType) error {
	if d != modelfile.F16 && d != modelfile.BF16 && d != modelfile.F32 {
		return fmt.Errorf("llama: KV caches of %s (want F16, BF16 or F32)", d)
	}
	m.kvType = d
	return nil
}

// kvDType applies KVDType's rule to the embedding table, which every
// model has and which carries the model's type.
func kvDType(w modelfile.Weights) modelfile.DType {
	t, ok := w.Tensor("model.embed_tokens.scales")
	if !ok {
		t, _ = w.Tensor("model.embed_tokens.weight")
	}
	if t.DType == modelfile.BF16 {
		return modelfile.BF16
	}
	return modelfile.F16
}

// Config is the configuration the model was loaded with.
func (m *Model) Config() modelfile.Config { return m.cfg }

// Close frees the model's weights on the backend. Caches must be closed
// separately.
func (m *Model) Close() error {
	owned := m.owned
	m.owned = nil
	return m.b.Run(func() error {
		for _, r := range owned {
			r.Free()
		}
		return nil
	})
}

// checkConfig refuses configurations the forward pass cannot run.
func checkConfig(c modelfile.Config) error {
	switch c.Architecture {
	case "llama", "mistral", "qwen2", "qwen3", "gemma3", "gemma3_text", "phi3", "smollm3": // dense.go
		if c.MoE != nil {
			return fmt.Errorf("llama: %s has no mixture of experts", c.Architecture)
		}
	case "qwen3_moe", "mixtral", "gpt_oss": // moe.go
		if err := checkMoE(c); err != nil {
			return err
		}
	default:
		return fmt.Errorf("llama: architecture %q is not in the Llama family", c.Architecture)
	}
	if err := checkDense(c); err != nil {
		return err
	}
	if s := c.RopeScaling; s != nil && s.Type == "yarn" && c.Architecture != "gpt_oss" {
		return fmt.Errorf("llama: rope_scaling type %q is only supported for gpt_oss", s.Type)
	}
	positive := map[string]int{"hidden_size": c.HiddenSize, "intermediate_size": c.IntermediateSize,
		"num_hidden_layers": c.NumLayers, "num_attention_heads": c.NumHeads,
		"num_key_value_heads": c.NumKVHeads, "head_dim": c.HeadDim, "vocab_size": c.VocabSize}
	for name, v := range positive {
		if v <= 0 {
			return fmt.Errorf("llama: %s is %d", name, v)
		}
	}
	switch {
	case c.NumHeads%c.NumKVHeads != 0:
		return fmt.Errorf("llama: %d attention heads are not a multiple of %d key/value heads", c.NumHeads, c.NumKVHeads)
	case c.HeadDim%2 != 0:
		return fmt.Errorf("llama: head_dim %d is odd", c.HeadDim)
	case c.RopeTheta <= 0:
		return fmt.Errorf("llama: rope_theta is %v", c.RopeTheta)
	case c.RMSNormEps < 0:
		return fmt.Errorf("llama: rms_norm_eps is %v", c.RMSNormEps)
	case c.LayerWindows != nil && len(c.LayerWindows) != c.NumLayers:
		return fmt.Errorf("llama: %d layer windows for %d layers", len(c.LayerWindows), c.NumLayers)
	}
	for i, w := range c.LayerWindows {
		if w < 0 {
			return fmt.Errorf("llama: layer %d has a window of %d", i, w)
		}
	}
	return nil
}
