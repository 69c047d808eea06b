package modelfile

import (
	"fmt"
	"slices"
	"strings"
)

// matrix is a linear layer (or the embedding) of the architecture; its
// weight is [out, in], stored as "<prefix>.weight", or quantized as
// "<prefix>.weight", "<prefix>.scales" and "<prefix>.biases".
type matrix struct {
	prefix  string
	out, in int
}

// vector is a one-dimensional float tensor: a norm's weight or a bias.
type vector struct {
	name string
	n    int
}

// layout lists the tensors a model must have, in the order errors are
// reported: the embedding, each layer, the final norm, lm_head.
func layout(mc *modelConfig) ([]matrix, []vector) {
	if mats, vecs, ok := denseLayout(mc); ok {
		return mats, vecs
	}
	c := mc.Config
	h, q, kv := c.HiddenSize, c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	mats := []matrix{{"model.embed_tokens", c.VocabSize, h}}
	var vecs []vector
	for i := range c.NumLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		mats = append(mats,
			matrix{p + "self_attn.q_proj", q, h}, matrix{p + "self_attn.k_proj", kv, h},
			matrix{p + "self_attn.v_proj", kv, h}, matrix{p + "self_attn.o_proj", h, q})
		if c.MoE.Sparse(i) { // issue 16: the router here, the experts in expertLayout
			m, v, _ := moeLayout(c, p)
			mats, vecs = append(mats, m...), append(vecs, v...)
		} else {
			mats = append(mats, matrix{p + "mlp.gate_proj", c.IntermediateSize, h}, matrix{p + "mlp.up_proj", c.IntermediateSize, h},
				matrix{p + "mlp.down_proj", h, c.IntermediateSize})
		}
		if c.AttentionSinks {
			vecs = append(vecs, vector{p + "self_attn.sinks", c.NumHeads})
		}
		vecs = append(vecs, vector{p + "input_layernorm.weight", h}, vector{p + "post_attention_layernorm.weight", h})
		if c.AttentionBias {
			vecs = append(vecs, vector{p + "self_attn.q_proj.bias", q}, vector{p + "self_attn.k_proj.bias", kv},
				vector{p + "self_attn.v_proj.bias", kv})
		}
		if mc.outputBias {
			vecs = append(vecs, vector{p + "self_attn.o_proj.bias", h})
		}
		if mc.mlpBias {
			vecs = append(vecs, vector{p + "mlp.gate_proj.bias", c.IntermediateSize},
				vector{p + "mlp.up_proj.bias", c.IntermediateSize}, vector{p + "mlp.down_proj.bias", h})
		}
		if c.QKNorm {
			vecs = append(vecs, vector{p + "self_attn.q_norm.weight", c.HeadDim}, vector{p + "self_attn.k_norm.weight", c.HeadDim})
		}
	}
	vecs = append(vecs, vector{"model.norm.weight", h})
	if !c.TieWordEmbeddings {
		mats = append(mats, matrix{"lm_head", c.VocabSize, h})
	}
	return mats, vecs
}

var floatTypes = []DType{F16, BF16, F32}

// checkTensors settles tie_word_embeddings when config.json left it out
// (untied when there is an lm_head.weight), then checks that every tensor
// the architecture needs is present with the right dtype and shape, and
// that there are no others (bar the rotary frequencies mlx-lm drops, and
// lm_head.weight of a tied model). It returns how each matrix is stored:
// its quantization, or nil for plain floats.
func checkTensors(mc *modelConfig, cat *catalog) (map[string]*Quantization, error) {
	if !mc.tieSet {
		_, _, untied := cat.find("lm_head.weight")
		mc.TieWordEmbeddings = !untied
	}
	mats, vecs := layout(mc)
	expected := map[string]bool{}
	quant := make(map[string]*Quantization, len(mats))
	for _, m := range mats {
		q, err := checkMatrix(mc, cat, m, expected)
		if err != nil {
			return nil, err
		}
		quant[m.prefix] = q
	}
	for _, s := range expertLayout(mc.Config) { // issue 16
		q, err := checkExperts(mc, cat, s, expected)
		if err != nil {
			return nil, err
		}
		quant[s.prefix] = q
	}
	for _, v := range vecs {
		expected[v.name] = true
		if err := checkTensor(cat, v.name, floatTypes, v.n); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(cat.where) {
		ignored := strings.HasSuffix(name, ".rotary_emb.inv_freq") || (name == "lm_head.weight" && mc.TieWordEmbeddings)
		if !expected[name] && !ignored {
			_, file, _ := cat.find(name)
			return nil, &TensorError{file, name, wrapf(ErrTensorShape, "not part of a %s model with this config.json", mc.Architecture)}
		}
	}
	return quant, nil
}

// checkMatrix checks one matrix, quantized when the config's per-layer
// quantization says so or, as in mlx-lm, when "<prefix>.scales" exists.
func checkMatrix(mc *modelConfig, cat *catalog, m matrix, expected map[string]bool) (*Quantization, error) {
	q, override := mc.layerQuant[m.prefix]
	_, file, scaled := cat.find(m.prefix + ".scales")
	switch {
	case override:
	case !scaled:
		q = nil
	case mc.Quantization == nil:
		return nil, &TensorError{file, m.prefix + ".scales", wrapf(ErrTensorShape, "quantized weights, but config.json has no quantization")}
	default:
		q = mc.Quantization
	}
	weight := m.prefix + ".weight"
	expected[weight] = true
	if q != nil && q.Mode == "mxfp4" { // issue 16
		return q, checkMXFP4(cat, m.prefix, m.out, m.in, expected)
	}
	if q == nil {
		return nil, checkTensor(cat, weight, floatTypes, m.out, m.in)
	}
	if m.in%q.GroupSize != 0 {
		_, file, _ := cat.find(weight)
		return nil, &TensorError{file, weight, wrapf(ErrTensorShape, "input size %d is not a multiple of group_size %d", m.in, q.GroupSize)}
	}
	expected[m.prefix+".scales"], expected[m.prefix+".biases"] = true, true
	for _, err := range []error{
		checkTensor(cat, weight, []DType{U32}, m.out, m.in*q.Bits/32),
		checkTensor(cat, m.prefix+".scales", floatTypes, m.out, m.in/q.GroupSize),
		checkTensor(cat, m.prefix+".biases", floatTypes, m.out, m.in/q.GroupSize),
	} {
		if err != nil {
			return nil, err
		}
	}
	return q, nil
}

// checkTensor checks that a tensor exists with one of dtypes and shape.
func checkTensor(cat *catalog, name string, dtypes []DType, shape ...int) error {
	info, file, ok := cat.find(name)
	if !ok {
		return &TensorError{cat.dir, name, ErrMissingTensor}
	}
	if !slices.Contains(dtypes, info.dtype) || !slices.Equal(info.shape, shape) {
		return &TensorError{file, name, wrapf(ErrTensorShape, "want %s %v, got %s %v", dtypeList(dtypes), shape, info.dtype, info.shape)}
	}
	return nil
}

func dtypeList(ds []DType) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = string(d)
	}
	return strings.Join(s, "/")
}
