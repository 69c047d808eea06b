package modelfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The files of a model directory that modelfile reads.
const (
	ConfigFile           = "config.json"
	GenerationConfigFile = "generation_config.json"
	WeightsFile          = "model.safetensors"
	WeightsIndexFile     = "model.safetensors.index.json"
)

// headDimRule is how an architecture finds the attention head size.
type headDimRule int

const (
	headDimOptional headDimRule = iota // head_dim, else hidden_size/num_attention_heads
	headDimDerived                     // always hidden_size/num_attention_heads
	headDimRequired                    // head_dim must be given
)

// archRules is what mlx-lm's ModelArgs for one architecture does with
// fields that config.json leaves out (mlx_lm/models/{llama,qwen2,qwen3}.py;
// mistral is remapped to llama).
type archRules struct {
	ropeTheta  float64 // 0: rope_theta is required
	maxPos     int     // 0: max_position_embeddings is required
	kvRequired bool    // num_key_value_heads has no default
	headDim    headDimRule
	attnBias   bool // q/k/v biases always (qwen2), whatever attention_bias says
	qkNorm     bool
	llamaOpts  bool // honours attention_bias, mlp_bias, rope_traditional
	windows    windowRule

	// Added for gemma3, phi3 and smollm3 (issue 16, dense).
	nested   bool                                                          // the text model's config is text_config (gemma3)
	defaults func(raw *rawConfig)                                          // fills absent fields before validation
	dense    func(f *fields, mc *modelConfig, raw *rawConfig, data []byte) // reads the family's own fields from data
}

// architectures are the supported model_types. mlx-lm has no default for
// llama's max_position_embeddings; the defaults here are transformers'.
var architectures = map[string]archRules{
	"llama":   {ropeTheta: 10000, maxPos: 2048, llamaOpts: true, windows: windowsLayerTypes},
	"mistral": {ropeTheta: 10000, maxPos: 131072, llamaOpts: true, windows: windowsEvery},
	"qwen2":   {ropeTheta: 1e6, maxPos: 32768, kvRequired: true, headDim: headDimDerived, attnBias: true, windows: windowsQwen},
	"qwen3":   {kvRequired: true, headDim: headDimRequired, qkNorm: true, windows: windowsQwen},

	// Added for gemma3, phi3 and smollm3 (issue 16, dense); see dense.go.
	// gemma3 and smollm3 take transformers' defaults (Gemma3TextConfig,
	// SmolLM3Config: real gemma3 text_config objects leave out what equals
	// them), phi3 mlx-lm's (its 131072 positions, not transformers' 4096).
	"gemma3_text": gemma3Rules(false),
	"gemma3":      gemma3Rules(true),
	"phi3":        {ropeTheta: 10000, maxPos: 131072, headDim: headDimDerived, windows: windowsEvery, dense: phi3Fields},
	"smollm3":     {ropeTheta: 2e6, maxPos: 32768, llamaOpts: true, windows: windowsQwen, dense: smollm3Fields},
}

// Architectures lists the supported model_types, sorted.
func Architectures() []string {
	names := make([]string, 0, len(architectures))
	for name := range architectures {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// rawConfig is config.json as written; pointers tell absent from zero.
type rawConfig struct {
	ModelType             string          `json:"model_type"`
	HiddenSize            *int            `json:"hidden_size"`
	IntermediateSize      *int            `json:"intermediate_size"`
	NumLayers             *int            `json:"num_hidden_layers"`
	NumHeads              *int            `json:"num_attention_heads"`
	NumKVHeads            *int            `json:"num_key_value_heads"`
	HeadDim               *int            `json:"head_dim"`
	VocabSize             *int            `json:"vocab_size"`
	RMSNormEps            *float64        `json:"rms_norm_eps"`
	RopeTheta             *float64        `json:"rope_theta"`
	RopeScaling           json.RawMessage `json:"rope_scaling"`
	RopeParameters        json.RawMessage `json:"rope_parameters"`
	RopeTraditional       bool            `json:"rope_traditional"`
	MaxPositionEmbeddings *int            `json:"max_position_embeddings"`
	TieWordEmbeddings     *bool           `json:"tie_word_embeddings"`
	AttentionBias         bool            `json:"attention_bias"`
	MLPBias               bool            `json:"mlp_bias"`
	LayerTypes            []string        `json:"layer_types"`
	SlidingWindow         json.RawMessage `json:"sliding_window"`
	SlidingWindowPattern  *int            `json:"sliding_window_pattern"` // gemma3
	UseSlidingWindow      bool            `json:"use_sliding_window"`
	MaxWindowLayers       *int            `json:"max_window_layers"`
	Quantization          json.RawMessage `json:"quantization"`
	QuantizationConfig    json.RawMessage `json:"quantization_config"`
	BOSTokenID            json.RawMessage `json:"bos_token_id"`
	EOSTokenID            json.RawMessage `json:"eos_token_id"`
}

// modelConfig is a Config with what only loading the weights can settle.
type modelConfig struct {
	Config
	tieSet       bool                     // tie_word_embeddings was given
	weightPrefix string                   // before the text model's tensor names in the files (gemma3: "language_model.")
	outputBias   bool                     // o_proj has a bias (llama's attention_bias)
	mlpBias      bool                     // gate, up and down projections have biases (llama's mlp_bias)
	layerQuant   map[string]*Quantization // per-layer overrides; nil value: not quantized
}

// ReadConfig reads dir's config.json and generation_config.json, applies
// mlx-lm's defaults and validates the result. Errors wrap ErrNoConfig, or
// are a *FieldError naming the file and field. When config.json omits
// tie_word_embeddings, the result says true as mlx-lm does; Open decides
// from the weights (an lm_head.weight means untied). A llama or mistral
// with attention_bias has biases on o_proj too, and mlp_bias puts them on
// gate/up/down_proj; Config has no field for those, but Open checks that
// they are there: a forward pass should add every "<prefix>.bias" present.
func ReadConfig(dir string) (Config, error) {
	mc, err := readConfig(dir)
	if err != nil {
		return Config{}, err
	}
	return mc.Config, nil
}

func readConfig(dir string) (*modelConfig, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	mc, err := parseConfig(path, data)
	if err != nil {
		return nil, err
	}
	// Like mlx-lm, a generation_config.json that does not decode is ignored.
	if gen, err := os.ReadFile(filepath.Join(dir, GenerationConfigFile)); err == nil {
		mergeGeneration(&mc.Config, gen)
	}
	return mc, nil
}

// parseConfig decodes and validates config.json; path is for errors.
func parseConfig(path string, data []byte) (*modelConfig, error) {
	var raw rawConfig
	err := json.Unmarshal(data, &raw) // after a type error, the other fields are still decoded
	rules, ok := architectures[raw.ModelType]
	switch {
	case raw.ModelType != "" && !ok: // the most useful thing to say about a foreign model
		return nil, &FieldError{path, "model_type", wrapf(ErrUnsupported, "architecture %q (supported: %s)",
			raw.ModelType, strings.Join(Architectures(), ", "))}
	case err != nil:
		return nil, jsonError(path, err)
	case raw.ModelType == "":
		return nil, &FieldError{path, "model_type", wrapf(ErrInvalidConfig, "required")}
	}
	text, prefix, err := nestedConfig(path, data, &raw, rules)
	if err != nil {
		return nil, err
	}
	if rules.defaults != nil {
		rules.defaults(&raw)
	}
	f := &fields{file: path, prefix: prefix, arch: raw.ModelType}
	mc := &modelConfig{Config: Config{Architecture: raw.ModelType, AttentionBias: rules.attnBias, QKNorm: rules.qkNorm}}
	if prefix != "" {
		mc.weightPrefix = nestedWeightPrefix
	}
	c := &mc.Config
	c.HiddenSize = f.positive("hidden_size", raw.HiddenSize, 0)
	c.IntermediateSize = f.positive("intermediate_size", raw.IntermediateSize, 0)
	c.NumLayers = f.positive("num_hidden_layers", raw.NumLayers, 0)
	c.NumHeads = f.positive("num_attention_heads", raw.NumHeads, 0)
	c.VocabSize = f.positive("vocab_size", raw.VocabSize, 0)
	c.NumKVHeads = f.positive("num_key_value_heads", raw.NumKVHeads, defaultIf(!rules.kvRequired, c.NumHeads))
	c.HeadDim = f.headDim(rules.headDim, raw.HeadDim, c.HiddenSize, c.NumHeads)
	c.MaxPositionEmbeddings = f.positive("max_position_embeddings", raw.MaxPositionEmbeddings, rules.maxPos)
	c.RMSNormEps = f.positiveFloat("rms_norm_eps", raw.RMSNormEps, 0)
	if c.NumKVHeads > 0 && c.NumHeads%c.NumKVHeads != 0 {
		f.fail("num_key_value_heads", ErrInvalidConfig, "%d does not divide num_attention_heads %d", c.NumKVHeads, c.NumHeads)
	}
	f.rope(c, &raw, rules.ropeTheta)
	if rules.llamaOpts {
		f.llamaOptions(&raw)
		c.AttentionBias, mc.outputBias, mc.mlpBias = raw.AttentionBias, raw.AttentionBias, raw.MLPBias
	}
	c.LayerWindows = f.windows(rules.windows, &raw, c.NumLayers)
	if rules.dense != nil {
		rules.dense(f, mc, &raw, text)
	}
	f.prefix = "" // quantization and token ids are read at the top level
	c.TieWordEmbeddings, mc.tieSet = true, raw.TieWordEmbeddings != nil
	if mc.tieSet {
		c.TieWordEmbeddings = *raw.TieWordEmbeddings
	}
	c.Quantization, mc.layerQuant = f.quantization(&raw)
	c.BOSTokenID = f.tokenID("bos_token_id", raw.BOSTokenID)
	c.EOSTokenIDs = f.tokenIDs("eos_token_id", raw.EOSTokenID)
	if _, moe := moeArchitectures[raw.ModelType]; moe && f.err == nil { // issue 16
		f.moeConfig(mc, data)
	}
	if f.err != nil {
		return nil, f.err
	}
	return mc, nil
}

// mergeGeneration adds generation_config.json's EOS tokens to c's (and its
// BOS token when config.json has none); a file that does not decode is
// ignored.
func mergeGeneration(c *Config, data []byte) {
	var gen struct {
		BOS json.RawMessage `json:"bos_token_id"`
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if json.Unmarshal(data, &gen) != nil {
		return
	}
	f := &fields{}
	bos, eos := f.tokenID("bos_token_id", gen.BOS), f.tokenIDs("eos_token_id", gen.EOS)
	if f.err != nil {
		return
	}
	if c.BOSTokenID == nil {
		c.BOSTokenID = bos
	}
	for _, id := range eos {
		if !slices.Contains(c.EOSTokenIDs, id) {
			c.EOSTokenIDs = append(c.EOSTokenIDs, id)
		}
	}
}

func defaultIf(ok bool, v int) int {
	if ok {
		return v
	}
	return 0
}

// jsonError turns a decoding error into a *FieldError.
func jsonError(path string, err error) error {
	f := &fields{file: path}
	f.jsonFail(err)
	return f.err
}

// isNull reports whether a raw field is absent or null.
func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}
