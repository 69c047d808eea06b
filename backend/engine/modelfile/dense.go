package modelfile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Added for gemma3, phi3 and smollm3 (issue 16, dense): what their
// config.json files say beyond the Llama family's fields, read into
// structs of their own (decoded from the same bytes) so that other
// families' additions to rawConfig cannot collide with them.

// nestedWeightPrefix is where a gemma3 (vision-language) checkpoint keeps
// the text model's tensors, as mlx-lm and mlx-vlm write them
// ("language_model.model.layers.0...", "language_model.lm_head.weight").
const nestedWeightPrefix = "language_model."

// nestedRenames are the other layout of a gemma3 checkpoint's text model,
// the one transformers (4.52 on) saves: "model.language_model.layers.0..."
// with "lm_head.weight" at the top.
var nestedRenames = map[string]string{"model.language_model.": "model."}

// ignoredNested are the prefixes of a gemma3 checkpoint's tensors that a
// text-only forward pass does not use (the vision tower and projector, in
// either layout).
var ignoredNested = []string{"vision_tower.", "multi_modal_projector.", "model.vision_tower.", "model.multi_modal_projector."}

// gemma3Rules are the rules of gemma3_text (flat) or gemma3 (the text
// model in text_config). Absent fields take transformers'
// Gemma3TextConfig defaults: real text_config objects leave out what
// equals them (Gemma 3 4B's has no num_attention_heads or head_dim).
func gemma3Rules(nested bool) archRules {
	return archRules{ropeTheta: 1e6, maxPos: 131072, qkNorm: true, windows: windowsPattern, nested: nested, defaults: gemma3Defaults, dense: gemma3Fields}
}

func gemma3Defaults(raw *rawConfig) {
	setInt := func(p **int, v int) {
		if *p == nil {
			*p = &v
		}
	}
	setInt(&raw.HiddenSize, 2304)
	setInt(&raw.IntermediateSize, 9216)
	setInt(&raw.NumLayers, 26)
	setInt(&raw.NumHeads, 8)
	setInt(&raw.NumKVHeads, 4)
	setInt(&raw.HeadDim, 256)
	setInt(&raw.VocabSize, 262208)
	if raw.RMSNormEps == nil {
		eps := 1e-6
		raw.RMSNormEps = &eps
	}
}

// nestedConfig replaces raw by its text_config for a nested architecture
// and returns the text config's bytes and the field-path prefix of its
// errors; quantization, token ids and tie_word_embeddings stay the top
// level's when it has them (mlx-lm quantizes and ties at the top).
func nestedConfig(path string, data []byte, raw *rawConfig, rules archRules) ([]byte, string, error) {
	if !rules.nested {
		return data, "", nil
	}
	const prefix = "text_config."
	var top struct {
		Text json.RawMessage `json:"text_config"`
	}
	_ = json.Unmarshal(data, &top) // data decoded into raw already
	text := []byte(top.Text)
	if isNull(top.Text) {
		text = []byte("{}") // transformers: a default Gemma3TextConfig
	}
	var t rawConfig
	if err := json.Unmarshal(text, &t); err != nil {
		var fe *FieldError
		if err := jsonError(path, err); asFieldError(err, &fe) {
			fe.Field = prefix + fe.Field
			return nil, "", fe
		}
		return nil, "", err
	}
	t.ModelType = raw.ModelType
	t.Quantization, t.QuantizationConfig = raw.Quantization, raw.QuantizationConfig
	if !isNull(raw.BOSTokenID) {
		t.BOSTokenID = raw.BOSTokenID
	}
	if !isNull(raw.EOSTokenID) {
		t.EOSTokenID = raw.EOSTokenID
	}
	if raw.TieWordEmbeddings != nil {
		t.TieWordEmbeddings = raw.TieWordEmbeddings
	}
	if t.VocabSize == nil {
		t.VocabSize = raw.VocabSize
	}
	*raw = t
	return text, prefix, nil
}

func asFieldError(err error, fe **FieldError) bool {
	e, ok := err.(*FieldError)
	*fe = e
	return ok
}

// gemma3Fields reads gemma3's attention scale, local RoPE base and logit
// soft-capping (its local/global layer pattern is windowsPattern's), and
// refuses what its forward pass does not do (attention logit
// soft-capping, bidirectional attention, another activation).
func gemma3Fields(f *fields, mc *modelConfig, raw *rawConfig, data []byte) {
	var g struct {
		QueryPreAttnScalar    *float64 `json:"query_pre_attn_scalar"`
		RopeLocalBaseFreq     *float64 `json:"rope_local_base_freq"`
		FinalLogitSoftcapping *float64 `json:"final_logit_softcapping"`
		AttnLogitSoftcapping  *float64 `json:"attn_logit_softcapping"`
		HiddenActivation      *string  `json:"hidden_activation"`
		AttentionBias         bool     `json:"attention_bias"`
		Bidirectional         bool     `json:"use_bidirectional_attention"`
	}
	if !f.decode(data, &g) {
		return
	}
	c := &mc.Config
	c.QueryPreAttnScalar = f.positiveFloat("query_pre_attn_scalar", g.QueryPreAttnScalar, 256)
	c.RopeLocalTheta = f.positiveFloat("rope_local_base_freq", g.RopeLocalBaseFreq, 10000)
	if g.FinalLogitSoftcapping != nil {
		c.FinalLogitSoftcap = f.positiveFloat("final_logit_softcapping", g.FinalLogitSoftcapping, 0)
	}
	switch {
	case g.AttnLogitSoftcapping != nil:
		f.fail("attn_logit_softcapping", ErrUnsupported, "%v (Gemma 3 does not soft-cap attention logits; this is Gemma 2's)", *g.AttnLogitSoftcapping)
	case g.Bidirectional:
		f.fail("use_bidirectional_attention", ErrUnsupported, "true (an embedding model, not a causal language model)")
	case g.HiddenActivation != nil && *g.HiddenActivation != "gelu_pytorch_tanh":
		f.fail("hidden_activation", ErrUnsupported, "%q (only gelu_pytorch_tanh)", *g.HiddenActivation)
	case g.AttentionBias:
		f.fail("attention_bias", ErrUnsupported, "true")
	}
}

// phi3Fields reads partial_rotary_factor and
// original_max_position_embeddings (for longrope). transformers' Phi3
// applies sliding_window to every layer (windowsEvery; mlx-lm ignores it);
// a window that covers the whole context changes nothing and is dropped
// here.
func phi3Fields(f *fields, mc *modelConfig, raw *rawConfig, data []byte) {
	var p struct {
		PartialRotaryFactor *float64 `json:"partial_rotary_factor"`
		Original            *int     `json:"original_max_position_embeddings"`
	}
	if !f.decode(data, &p) {
		return
	}
	c := &mc.Config
	factor := f.positiveFloat("partial_rotary_factor", p.PartialRotaryFactor, 1)
	if factor > 1 {
		f.fail("partial_rotary_factor", ErrInvalidConfig, "%v exceeds 1", factor)
	}
	c.RotaryDims = int(float64(c.HeadDim) * factor)
	if c.HeadDim > 0 && (c.RotaryDims <= 0 || c.RotaryDims%2 != 0) {
		f.fail("partial_rotary_factor", ErrInvalidConfig, "%v turns %d values of each head of %d, want a positive even number", factor, c.RotaryDims, c.HeadDim)
	}
	original := f.positive("original_max_position_embeddings", p.Original, 4096)
	if s := c.RopeScaling; s != nil && s.Type == "longrope" {
		s.OriginalMaxPositionEmbeddings = original
		for name, v := range map[string][]float64{"short_factor": s.ShortFactor, "long_factor": s.LongFactor} {
			if len(v) != c.RotaryDims/2 {
				f.fail("rope_scaling."+name, ErrInvalidConfig, "%d factors for %d rotated pairs", len(v), c.RotaryDims/2)
			}
		}
	}
	if len(c.LayerWindows) > 0 && slices.Max(c.LayerWindows) >= c.MaxPositionEmbeddings {
		c.LayerWindows = nil
	}
}

// smollm3Fields reads the NoPE layers. SmolLM3Config's convention:
// no_rope_layers[i] = 1 means layer i uses RoPE, 0 that it has none; when
// the list is absent, every no_rope_layer_interval-th layer has none.
func smollm3Fields(f *fields, mc *modelConfig, _ *rawConfig, data []byte) {
	var s struct {
		NoRopeLayers     []int `json:"no_rope_layers"`
		Interval         *int  `json:"no_rope_layer_interval"`
		UseSlidingWindow bool  `json:"use_sliding_window"`
	}
	if !f.decode(data, &s) {
		return
	}
	c := &mc.Config
	if s.UseSlidingWindow {
		f.fail("use_sliding_window", ErrUnsupported, "true")
	}
	interval := f.positive("no_rope_layer_interval", s.Interval, 4)
	if c.NumLayers <= 0 || f.err != nil {
		return
	}
	noRope := make([]bool, c.NumLayers)
	for i := range noRope {
		noRope[i] = (i+1)%interval == 0
	}
	if s.NoRopeLayers != nil {
		if len(s.NoRopeLayers) < c.NumLayers {
			f.fail("no_rope_layers", ErrInvalidConfig, "%d entries for %d layers", len(s.NoRopeLayers), c.NumLayers)
			return
		}
		for i := range noRope {
			switch s.NoRopeLayers[i] {
			case 0, 1:
				noRope[i] = s.NoRopeLayers[i] == 0
			default:
				f.fail("no_rope_layers", ErrInvalidConfig, "layer %d is %d, want 1 (RoPE) or 0 (none)", i, s.NoRopeLayers[i])
			}
		}
	}
	for _, n := range noRope {
		if n {
			c.LayerNoRope = noRope
			break
		}
	}
}

// denseRopeScaling parses rope_scaling of kind "linear" (factor) or phi3's
// "longrope" ("su" is its older name): short_factor and long_factor, one
// per rotated pair, checked by phi3Fields.
func (f *fields) denseRopeScaling(field, kind string, rs *rawRopeScaling) *RopeScaling {
	if kind == "linear" {
		return &RopeScaling{Type: kind, Factor: f.positiveFloat(field+".factor", rs.Factor, 0)}
	}
	if rs.Long == nil {
		f.fail(field+".long_factor", ErrInvalidConfig, "required")
	}
	for _, v := range append(append([]float64(nil), rs.Short...), rs.Long...) {
		if !(v > 0) {
			f.fail(field, ErrInvalidConfig, "factor %v is not positive", v)
			break
		}
	}
	return &RopeScaling{Type: "longrope", ShortFactor: rs.Short, LongFactor: rs.Long}
}

// longropeOnlyPhi3 refuses longrope elsewhere: its attention factor is
// part of phi3's forward pass only.
func (f *fields) longropeOnlyPhi3(c *Config, field string) {
	if c.RopeScaling != nil && c.RopeScaling.Type == "longrope" && c.Architecture != "phi3" {
		f.fail(field+".rope_type", ErrUnsupported, "RoPE scaling longrope for %s (only phi3)", c.Architecture)
	}
}

// denseLayout lists gemma3's and phi3's tensors (smollm3 has the Llama
// layout): gemma3 has four norms per layer and q/k norms; phi3 fuses
// q/k/v into qkv_proj (rows: q, then k, then v) and gate/up into
// gate_up_proj (rows: gate, then up).
func denseLayout(mc *modelConfig) ([]matrix, []vector, bool) {
	c := mc.Config
	h, q, kv, in := c.HiddenSize, c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim, c.IntermediateSize
	var mats []matrix
	var vecs []vector
	switch c.Architecture {
	case "gemma3", "gemma3_text":
		for i := range c.NumLayers {
			p := fmt.Sprintf("model.layers.%d.", i)
			mats = append(mats, matrix{p + "self_attn.q_proj", q, h}, matrix{p + "self_attn.k_proj", kv, h},
				matrix{p + "self_attn.v_proj", kv, h}, matrix{p + "self_attn.o_proj", h, q},
				matrix{p + "mlp.gate_proj", in, h}, matrix{p + "mlp.up_proj", in, h}, matrix{p + "mlp.down_proj", h, in})
			vecs = append(vecs, vector{p + "input_layernorm.weight", h}, vector{p + "post_attention_layernorm.weight", h},
				vector{p + "pre_feedforward_layernorm.weight", h}, vector{p + "post_feedforward_layernorm.weight", h},
				vector{p + "self_attn.q_norm.weight", c.HeadDim}, vector{p + "self_attn.k_norm.weight", c.HeadDim})
		}
	case "phi3":
		for i := range c.NumLayers {
			p := fmt.Sprintf("model.layers.%d.", i)
			mats = append(mats, matrix{p + "self_attn.qkv_proj", q + 2*kv, h}, matrix{p + "self_attn.o_proj", h, q},
				matrix{p + "mlp.gate_up_proj", 2 * in, h}, matrix{p + "mlp.down_proj", h, in})
			vecs = append(vecs, vector{p + "input_layernorm.weight", h}, vector{p + "post_attention_layernorm.weight", h})
		}
	default:
		return nil, nil, false
	}
	mats = append([]matrix{{"model.embed_tokens", c.VocabSize, h}}, mats...)
	vecs = append(vecs, vector{"model.norm.weight", h})
	if !c.TieWordEmbeddings {
		mats = append(mats, matrix{"lm_head", c.VocabSize, h})
	}
	return mats, vecs, true
}

// renameNested gives a nested checkpoint's text-model tensors (and its
// per-layer quantization entries) their flat names
// (language_model.model.norm.weight → model.norm.weight, the file's name
// kept for reading) and forgets the vision tensors.
func (c *catalog) renameNested(mc *modelConfig) error {
	if mc.weightPrefix == "" {
		return nil
	}
	for _, key := range sortedKeys(mc.layerQuant) { // per-layer quantization names the file's paths
		if rest, ok := strings.CutPrefix(key, mc.weightPrefix); ok {
			mc.layerQuant[rest] = mc.layerQuant[key]
			delete(mc.layerQuant, key)
		}
	}
	c.where = map[string]int{}
	for i := range c.shards {
		sh := &c.shards[i]
		renamed := make(map[string]tensorInfo, len(sh.tensors))
		for _, name := range sortedKeys(sh.tensors) {
			info, flat := sh.tensors[name], name
			if ignoredPrefix(name) {
				continue
			}
			if rest, ok := strings.CutPrefix(name, mc.weightPrefix); ok {
				flat, info.stored = rest, name
			}
			for from, to := range nestedRenames {
				if rest, ok := strings.CutPrefix(name, from); ok {
					flat, info.stored = to+rest, name
				}
			}
			if j, dup := c.where[flat]; dup {
				return &TensorError{sh.path, name, wrapf(ErrCorrupt, "is %s, which %s has too", flat, c.shards[j].path)}
			}
			if _, dup := renamed[flat]; dup {
				return &TensorError{sh.path, name, wrapf(ErrCorrupt, "is %s, which the file has too", flat)}
			}
			renamed[flat] = info
			c.where[flat] = i
		}
		sh.tensors = renamed
	}
	return nil
}

func ignoredPrefix(name string) bool {
	for _, p := range ignoredNested {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
