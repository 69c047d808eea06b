package testmodel

import (
	"fmt"
	"slices"
)

// Added for gemma3, phi3 and smollm3 (issue 16, dense): their config.json
// fields and tensors as transformers and mlx-lm write them. A "gemma3"
// spec is the vision-language layout: the text model's config in
// text_config, its tensors under "language_model.", and a vision tower
// and projector tensor a text-only reader must skip.

func denseArch(a string) bool {
	return a == "gemma3" || a == "gemma3_text" || a == "phi3" || a == "smollm3"
}

func isGemma3(a string) bool { return a == "gemma3" || a == "gemma3_text" }

// gemma3Prefix is where a nested gemma3 keeps the text model's tensors.
const gemma3Prefix = "language_model."

// denseConfig adds the family's fields to config.json (c), and nests a
// gemma3 text model in text_config.
func (s Spec) denseConfig(c map[string]any) map[string]any {
	a := s.Architecture
	if !denseArch(a) {
		return c
	}
	c["architectures"] = []string{map[string]string{"gemma3": "Gemma3ForConditionalGeneration", "gemma3_text": "Gemma3ForCausalLM",
		"phi3": "Phi3ForCausalLM", "smollm3": "SmolLM3ForCausalLM"}[a]}
	switch a {
	case "phi3":
		delete(c, "head_dim")
		if s.PartialRotaryFactor > 0 {
			c["partial_rotary_factor"] = s.PartialRotaryFactor
		}
		if s.SlidingWindow > 0 {
			c["sliding_window"] = s.SlidingWindow
		}
		if rs := s.RopeScaling; rs != nil && rs.Type == "longrope" {
			c["original_max_position_embeddings"] = rs.OriginalMaxPositionEmbeddings
			c["rope_scaling"] = map[string]any{"type": "longrope", "short_factor": rs.ShortFactor, "long_factor": rs.LongFactor}
		}
	case "smollm3":
		if s.NoRopeLayers != "" {
			flags := make([]int, len(s.NoRopeLayers))
			for i, d := range s.NoRopeLayers {
				flags[i] = int(d - '0')
			}
			c["no_rope_layers"] = flags
		}
	}
	if !isGemma3(a) {
		return c
	}
	delete(c, "hidden_act")
	c["hidden_activation"] = "gelu_pytorch_tanh"
	c["query_pre_attn_scalar"] = s.HeadDim
	c["sliding_window"], c["sliding_window_pattern"] = s.gemma3Window()
	c["rope_local_base_freq"] = 10000.0
	c["final_logit_softcapping"] = nil
	if s.FinalLogitSoftcapping > 0 {
		c["final_logit_softcapping"] = s.FinalLogitSoftcapping
	}
	if rs := s.RopeScaling; rs != nil && rs.Type == "linear" {
		c["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": rs.Factor}
	}
	if a == "gemma3_text" {
		return c
	}
	top := map[string]any{"model_type": "gemma3", "architectures": c["architectures"], "eos_token_id": c["eos_token_id"],
		"bos_token_id": c["bos_token_id"], "vision_config": map[string]any{"model_type": "siglip_vision_model"}}
	for _, k := range []string{"quantization", "quantization_config"} {
		if v, ok := c[k]; ok {
			top[k] = v
			delete(c, k)
		}
	}
	c["model_type"] = "gemma3_text"
	delete(c, "architectures")
	top["text_config"] = c
	return top
}

// gemma3Window is the window and pattern of a gemma3 spec.
func (s Spec) gemma3Window() (window, pattern int) {
	window, pattern = s.SlidingWindow, s.SlidingWindowPattern
	if window == 0 {
		window = 4
	}
	if pattern == 0 {
		pattern = 2
	}
	return window, pattern
}

// denseDefs lists gemma3's and phi3's tensors (smollm3's are Llama's).
func (s Spec) denseDefs() ([]tensorDef, bool) {
	a := s.Architecture
	if !isGemma3(a) && a != "phi3" {
		return nil, false
	}
	h, q, kv, inter := s.HiddenSize, s.NumHeads*s.HeadDim, s.NumKVHeads*s.HeadDim, s.IntermediateSize
	nk := norm
	if isGemma3(a) {
		nk = gemmaNorm
	}
	defs := []tensorDef{{"model.embed_tokens", matrix, s.VocabSize, h, 0}}
	for i := range s.NumLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		defs = append(defs, tensorDef{p + "input_layernorm.weight", nk, 1, h, 0}, tensorDef{p + "post_attention_layernorm.weight", nk, 1, h, 0})
		if a == "phi3" {
			defs = append(defs, tensorDef{p + "self_attn.qkv_proj", matrix, q + 2*kv, h, 0}, tensorDef{p + "self_attn.o_proj", matrix, h, q, 0},
				tensorDef{p + "mlp.gate_up_proj", matrix, 2 * inter, h, 0}, tensorDef{p + "mlp.down_proj", matrix, h, inter, 0})
			continue
		}
		defs = append(defs,
			tensorDef{p + "pre_feedforward_layernorm.weight", nk, 1, h, 0}, tensorDef{p + "post_feedforward_layernorm.weight", nk, 1, h, 0},
			tensorDef{p + "self_attn.q_norm.weight", nk, 1, s.HeadDim, 0}, tensorDef{p + "self_attn.k_norm.weight", nk, 1, s.HeadDim, 0},
			tensorDef{p + "self_attn.q_proj", matrix, q, h, 0}, tensorDef{p + "self_attn.k_proj", matrix, kv, h, 0},
			tensorDef{p + "self_attn.v_proj", matrix, kv, h, 0}, tensorDef{p + "self_attn.o_proj", matrix, h, q, 0},
			tensorDef{p + "mlp.gate_proj", matrix, inter, h, 0}, tensorDef{p + "mlp.up_proj", matrix, inter, h, 0},
			tensorDef{p + "mlp.down_proj", matrix, h, inter, 0})
	}
	defs = append(defs, tensorDef{"model.norm.weight", nk, 1, h, 0})
	if !s.TieWordEmbeddings {
		defs = append(defs, tensorDef{"lm_head", matrix, s.VocabSize, h, 0})
	}
	if a != "gemma3" {
		return defs, true
	}
	for i := range defs {
		defs[i].name = gemma3Prefix + defs[i].name
	}
	// What a text-only reader must skip (vision weights are never quantized).
	return slices.Concat(defs, []tensorDef{
		{"vision_tower.vision_model.post_layernorm.weight", bias, 1, 8, 0},
		{"multi_modal_projector.mm_soft_emb_norm.weight", bias, 1, 8, 0},
	}), true
}
