package modelfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// fields validates config fields one by one and keeps the first error.
type fields struct {
	file   string
	prefix string // of the field paths: "text_config." while a nested config is read
	err    error
	arch   string // model_type: yarn (gpt_oss) and mxfp4 (MoE experts) are accepted per architecture
}

func (f *fields) fail(field string, sentinel error, format string, args ...any) {
	if f.err == nil {
		f.err = &FieldError{f.file, f.prefix + field, wrapf(sentinel, format, args...)}
	}
}

// decode decodes a family's own fields from config.json's data into v.
func (f *fields) decode(data []byte, v any) bool {
	if err := json.Unmarshal(data, v); err != nil {
		f.jsonFail(err)
		return false
	}
	return true
}

// jsonFail records a decoding error, naming the field of a type error.
func (f *fields) jsonFail(err error) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		f.fail(te.Field, ErrInvalidConfig, "JSON %s where %s was expected", te.Value, te.Type)
		return
	}
	f.fail("", ErrInvalidConfig, "not valid JSON: %v", err)
}

// positive returns *v, or def when v is nil; def 0 means required.
func (f *fields) positive(field string, v *int, def int) int {
	switch {
	case v != nil && *v <= 0:
		f.fail(field, ErrInvalidConfig, "must be positive, got %d", *v)
	case v != nil:
		return *v
	case def == 0:
		f.fail(field, ErrInvalidConfig, "required")
	}
	return def
}

// positiveFloat is positive for a float field.
func (f *fields) positiveFloat(field string, v *float64, def float64) float64 {
	switch {
	case v != nil && !(*v > 0):
		f.fail(field, ErrInvalidConfig, "must be positive, got %v", *v)
	case v != nil:
		return *v
	case def == 0:
		f.fail(field, ErrInvalidConfig, "required")
	}
	return def
}

// headDim applies the architecture's rule for the attention head size.
func (f *fields) headDim(rule headDimRule, v *int, hidden, heads int) int {
	if rule == headDimRequired || (rule == headDimOptional && v != nil) {
		d := f.positive("head_dim", v, 0)
		if d%2 != 0 {
			f.fail("head_dim", ErrInvalidConfig, "must be even for RoPE, got %d", d)
		}
		return d
	}
	if heads <= 0 || hidden <= 0 {
		return 0
	}
	if hidden%heads != 0 {
		f.fail("num_attention_heads", ErrInvalidConfig, "%d does not divide hidden_size %d", heads, hidden)
	} else if (hidden/heads)%2 != 0 {
		f.fail("num_attention_heads", ErrInvalidConfig, "head size hidden_size/num_attention_heads = %d must be even for RoPE", hidden/heads)
	}
	return hidden / heads
}

// llamaOptions refuses the llama options the shared Config cannot
// express: the interleaved ("traditional") RoPE. (layer_types is read by
// windows.)
func (f *fields) llamaOptions(raw *rawConfig) {
	if raw.RopeTraditional {
		f.fail("rope_traditional", ErrUnsupported, "true")
	}
}

// rope sets RopeTheta and RopeScaling from rope_theta and rope_scaling,
// or from transformers' newer rope_parameters when those are absent.
func (f *fields) rope(c *Config, raw *rawConfig, defTheta float64) {
	theta, scaling, field := raw.RopeTheta, raw.RopeScaling, "rope_scaling"
	if isNull(scaling) && !isNull(raw.RopeParameters) {
		scaling, field = raw.RopeParameters, "rope_parameters"
		var p struct {
			Theta *float64 `json:"rope_theta"`
		}
		if json.Unmarshal(raw.RopeParameters, &p) == nil && theta == nil {
			theta = p.Theta
		}
	}
	c.RopeTheta = f.positiveFloat("rope_theta", theta, defTheta)
	if !isNull(scaling) {
		c.RopeScaling = f.ropeScaling(field, scaling)
		f.longropeOnlyPhi3(c, field)
	}
}

// rawRopeScaling is a rope_scaling (or rope_parameters) object as
// written, with the fields of every kind accepted; each kind's parser
// reads its own.
type rawRopeScaling struct {
	Type     *string  `json:"type"`
	RopeType *string  `json:"rope_type"`
	Factor   *float64 `json:"factor"`
	Original *int     `json:"original_max_position_embeddings"` // llama3, yarn
	// llama3
	Low  *float64 `json:"low_freq_factor"`
	High *float64 `json:"high_freq_factor"`
	// phi3's longrope
	Short []float64 `json:"short_factor"`
	Long  []float64 `json:"long_factor"`
	// gpt_oss's yarn
	Fast            *float64        `json:"beta_fast"`
	Slow            *float64        `json:"beta_slow"`
	Truncate        *bool           `json:"truncate"`
	Mscale          json.RawMessage `json:"mscale"`
	MscaleAD        json.RawMessage `json:"mscale_all_dim"`
	AttentionFactor json.RawMessage `json:"attention_factor"`
}

// ropeScaling parses a rope_scaling object the way mlx-lm's
// initialize_rope does: "type" wins over "rope_type"; "default" means no
// scaling; llama3 is read here, linear and longrope by denseRopeScaling,
// gpt_oss's yarn by yarnScaling.
func (f *fields) ropeScaling(field string, raw json.RawMessage) *RopeScaling {
	var rs rawRopeScaling
	if err := json.Unmarshal(raw, &rs); err != nil {
		f.fail(field, ErrInvalidConfig, "%v", err)
		return nil
	}
	kind := "default"
	if rs.Type != nil && *rs.Type != "" {
		kind = *rs.Type
	} else if rs.RopeType != nil {
		kind = *rs.RopeType
	}
	switch kind {
	case "default":
		return nil
	case "llama3":
	case "linear", "longrope", "su":
		return f.denseRopeScaling(field, kind, &rs)
	case "yarn": // gpt-oss
		if f.arch == "gpt_oss" {
			return f.yarnScaling(field, &rs)
		}
		f.fail(field+".rope_type", ErrUnsupported, "RoPE scaling %q (only gpt_oss uses yarn)", kind)
		return nil
	default:
		f.fail(field+".rope_type", ErrUnsupported, "RoPE scaling %q (only llama3, linear, phi3's longrope or gpt_oss's yarn)", kind)
		return nil
	}
	s := &RopeScaling{Type: kind}
	s.Factor = f.positiveFloat(field+".factor", rs.Factor, 0)
	s.LowFreqFactor = f.positiveFloat(field+".low_freq_factor", rs.Low, 1)
	s.HighFreqFactor = f.positiveFloat(field+".high_freq_factor", rs.High, 4)
	s.OriginalMaxPositionEmbeddings = f.positive(field+".original_max_position_embeddings", rs.Original, 8192)
	if s.HighFreqFactor <= s.LowFreqFactor {
		f.fail(field+".high_freq_factor", ErrInvalidConfig, "%v must exceed low_freq_factor %v", s.HighFreqFactor, s.LowFreqFactor)
	}
	return s
}

// quantization parses "quantization" (or, failing that, the
// "quantization_config" mlx-lm writes next to it): group_size, bits, an
// optional mode that must be "affine", and per-layer overrides (a layer's
// path mapped to false or to its own {group_size, bits}).
func (f *fields) quantization(raw *rawConfig) (*Quantization, map[string]*Quantization) {
	field, data := "quantization", raw.Quantization
	if isNull(data) {
		field, data = "quantization_config", raw.QuantizationConfig
	}
	if isNull(data) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		f.fail(field, ErrInvalidConfig, "want an object: %v", err)
		return nil, nil
	}
	if method, ok := m["quant_method"]; ok {
		f.fail(field+".quant_method", ErrUnsupported, "%s", quantMethodHint(method))
		return nil, nil
	}
	q := f.quantParams(field, data)
	var layers map[string]*Quantization
	for _, key := range sortedKeys(m) {
		if key == "group_size" || key == "bits" || key == "mode" {
			continue
		}
		var on bool
		if json.Unmarshal(m[key], &on) == nil {
			layers = setLayer(layers, key, q, on)
		} else if strings.HasPrefix(strings.TrimSpace(string(m[key])), "{") {
			lq := f.quantParams(field+"."+key, m[key])
			layers = setLayer(layers, key, lq, lq != nil)
		}
	}
	return q, layers
}

// quantMethodHint says why a quantization_config with a quant_method is
// refused. "mxfp4" there is Hugging Face's layout of MXFP4 weights, the
// one openai/gpt-oss-20b is published in: modelbar runs MXFP4, but as MLX
// stores it, so the user needs the MLX conversion, not another engine.
func quantMethodHint(method json.RawMessage) string {
	var name string
	if json.Unmarshal(method, &name) == nil && strings.EqualFold(name, "mxfp4") {
		return `"mxfp4" here is the Hugging Face layout (as openai/gpt-oss-20b is published: ` +
			`*_blocks and *_scales tensors); modelbar runs MXFP4 as MLX stores it: ` +
			`download an MLX conversion, such as mlx-community/gpt-oss-20b-MXFP4-Q8`
	}
	return fmt.Sprintf("%s (only MLX affine quantization, and MXFP4 as MLX stores it)", method)
}

func setLayer(m map[string]*Quantization, key string, q *Quantization, on bool) map[string]*Quantization {
	if m == nil {
		m = map[string]*Quantization{}
	}
	m[key] = nil
	if on && q != nil {
		c := *q
		m[key] = &c
	}
	return m
}

// quantParams parses and validates {group_size, bits, mode}.
func (f *fields) quantParams(field string, data json.RawMessage) *Quantization {
	var p struct {
		GroupSize *int    `json:"group_size"`
		Bits      *int    `json:"bits"`
		Mode      *string `json:"mode"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		f.fail(field, ErrInvalidConfig, "%v", err)
		return nil
	}
	_, moe := moeArchitectures[f.arch]
	if p.Mode != nil && *p.Mode != "affine" && (*p.Mode != "mxfp4" || !moe) {
		f.fail(field+".mode", ErrUnsupported, "%q (only affine, and mxfp4 for experts)", *p.Mode)
		return nil
	}
	q := &Quantization{GroupSize: f.positive(field+".group_size", p.GroupSize, 0), Bits: f.positive(field+".bits", p.Bits, 0)}
	if p.Mode != nil && *p.Mode == "mxfp4" { // gpt-oss's experts (issue 16)
		q.Mode = "mxfp4"
		if q.GroupSize != 32 || q.Bits != 4 {
			f.fail(field+".mode", ErrInvalidConfig, "mxfp4 with group_size %d and bits %d (want 32 and 4)", q.GroupSize, q.Bits)
		}
	}
	if q.Bits > 0 && q.Bits != 4 && q.Bits != 8 {
		f.fail(field+".bits", ErrUnsupported, "%d (only 4 or 8)", q.Bits)
	}
	if q.GroupSize > 0 && q.GroupSize != 32 && q.GroupSize != 64 && q.GroupSize != 128 {
		f.fail(field+".group_size", ErrUnsupported, "%d (only 32, 64 or 128)", q.GroupSize)
	}
	return q
}

// tokenID parses an optional token id (a list gives its first element).
func (f *fields) tokenID(field string, raw json.RawMessage) *int {
	ids := f.tokenIDs(field, raw)
	if len(ids) == 0 {
		return nil
	}
	return &ids[0]
}

// tokenIDs parses null, one token id or a list of them.
func (f *fields) tokenIDs(field string, raw json.RawMessage) []int {
	if isNull(raw) {
		return nil
	}
	var one int
	if json.Unmarshal(raw, &one) == nil {
		raw = json.RawMessage("[" + string(raw) + "]")
	}
	var ids []int
	if err := json.Unmarshal(raw, &ids); err != nil {
		f.fail(field, ErrInvalidConfig, "want a token id or a list of them, got %s", raw)
		return nil
	}
	for _, id := range ids {
		if id < 0 {
			f.fail(field, ErrInvalidConfig, "negative token id %d", id)
		}
	}
	return ids
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
