package llama

import (
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Added for gemma3, phi3 and smollm3 (issue 16, dense): what these
// families change in the Llama forward pass, as Hugging Face transformers
// defines them (modeling_gemma3, modeling_phi3, modeling_smollm3) with
// mlx-lm's weight names.
//
//   - gemma3: embeddings times sqrt(hidden_size) (rounded to the
//     embedding's dtype, as both transformers and mlx-lm round it; the
//     product itself is kept in the backend's precision); every RMSNorm is
//     x·(1+w) (the weights get 1 added at load, in float32 as transformers
//     computes it); the attention and MLP outputs are normalized again
//     (post_attention_layernorm, post_feedforward_layernorm) before their
//     residual adds, the MLP input by pre_feedforward_layernorm; q/k norms
//     per head; attention scale query_pre_attn_scalar^-0.5; GELU-tanh
//     gate; sliding-window layers (Config.LayerWindows) rotate with
//     rope_local_base_freq and no scaling, global layers with rope_theta
//     and rope_scaling; logits soft-capped when final_logit_softcapping is
//     set.
//   - phi3: see phi3.go.
//   - smollm3: the Llama forward pass with no RoPE on Config.LayerNoRope
//     layers.

// checkDense refuses configurations of these families the forward pass
// cannot run.
func checkDense(c modelfile.Config) error {
	switch {
	case c.LayerNoRope != nil && len(c.LayerNoRope) != c.NumLayers:
		return fmt.Errorf("llama: %d NoPE flags for %d layers", len(c.LayerNoRope), c.NumLayers)
	case c.RotaryDims < 0 || c.RotaryDims > c.HeadDim || c.RotaryDims%2 != 0:
		return fmt.Errorf("llama: RoPE over %d of a head's %d values", c.RotaryDims, c.HeadDim)
	case c.RopeScaling != nil && c.RopeScaling.Type == "longrope" && c.Architecture != "phi3":
		return fmt.Errorf("llama: longrope RoPE scaling in a %s model (only phi3)", c.Architecture)
	case c.QueryPreAttnScalar < 0 || c.RopeLocalTheta < 0 || c.FinalLogitSoftcap < 0:
		return fmt.Errorf("llama: query_pre_attn_scalar %v, rope_local_base_freq %v, final_logit_softcapping %v",
			c.QueryPreAttnScalar, c.RopeLocalTheta, c.FinalLogitSoftcap)
	}
	return nil
}

// rotaryDims is how many values of each head RoPE turns.
func rotaryDims(c modelfile.Config) int {
	if c.RotaryDims > 0 {
		return c.RotaryDims
	}
	return c.HeadDim
}

func isGemma3(c modelfile.Config) bool {
	return c.Architecture == "gemma3" || c.Architecture == "gemma3_text"
}

// familyLayer is the loader of one block for the model's family.
func (l *loader) familyLayer() func(i int, ly *layer) error {
	switch {
	case isGemma3(l.m.cfg):
		return l.gemma3Layer
	case l.m.cfg.Architecture == "phi3":
		return l.phi3Layer
	}
	return l.layer
}

// family makes the family's model-wide settings once the layers are
// loaded and carry the model's rope and windows.
func (l *loader) family() error {
	m, c := l.m, l.m.cfg
	for i, nope := range c.LayerNoRope {
		if nope {
			m.layers[i].rope = nil
		}
	}
	if c.RotaryDims > 0 && c.RotaryDims < c.HeadDim {
		for i := range m.layers {
			m.layers[i].ropeHead = c.HeadDim
		}
	}
	if !isGemma3(c) {
		return nil
	}
	return l.gemma3Model()
}

// gemma3Model sets gemma3's activation, scales and local rope.
func (l *loader) gemma3Model() error {
	m, c := l.m, l.m.cfg
	m.act = l.b.GELUTanh
	m.scale = float32(1 / math.Sqrt(c.QueryPreAttnScalar))
	m.softcap = float32(c.FinalLogitSoftcap)
	embed, _ := l.w.Tensor("model.embed_tokens.weight")
	if s, quantized := l.w.Tensor("model.embed_tokens.scales"); quantized {
		embed = s // mlx-lm dequantizes into the scales' dtype
	}
	m.embedScale = roundTo(embed.DType, float32(math.Sqrt(float64(c.HiddenSize))))
	if c.RopeLocalTheta <= 0 || c.LayerWindows == nil {
		return nil
	}
	inv, err := ropeFrequencies(c.HeadDim, c.RopeLocalTheta, nil)
	if err != nil {
		return err
	}
	var local tensor.Rope
	err = l.run(func() (err error) {
		local, err = l.b.NewRope(c.HeadDim, inv)
		return l.own(local, err)
	})
	if err != nil {
		return err
	}
	for i := range m.layers {
		if m.layers[i].window > 0 && m.layers[i].rope != nil {
			m.layers[i].rope = local
		}
	}
	return nil
}

// roundTo rounds v to the precision of dtype d.
func roundTo(d modelfile.DType, v float32) float32 {
	switch d {
	case modelfile.BF16:
		return modelfile.BFloat16ToFloat32(modelfile.Float32ToBFloat16(v))
	case modelfile.F16:
		return modelfile.Float16ToFloat32(modelfile.Float32ToFloat16(v))
	}
	return v
}

// gemma3Layer loads block i of a gemma3 model: Llama's tensors plus the
// pre/post feed-forward norms and q/k norms, every norm as 1+w.
func (l *loader) gemma3Layer(i int, ly *layer) error {
	c := l.m.cfg
	p := fmt.Sprintf("model.layers.%d.", i)
	qDim, kvDim := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	steps := []func() error{
		l.normTo(&ly.attnNorm, p+"input_layernorm.weight", c.HiddenSize),
		l.normTo(&ly.postAttnNorm, p+"post_attention_layernorm.weight", c.HiddenSize),
		l.normTo(&ly.mlpNorm, p+"pre_feedforward_layernorm.weight", c.HiddenSize),
		l.normTo(&ly.postMLPNorm, p+"post_feedforward_layernorm.weight", c.HiddenSize),
		l.normTo(&ly.qNorm, p+"self_attn.q_norm.weight", c.HeadDim),
		l.normTo(&ly.kNorm, p+"self_attn.k_norm.weight", c.HeadDim),
		l.linearTo(&ly.q, p+"self_attn.q_proj", qDim, c.HiddenSize, false),
		l.linearTo(&ly.k, p+"self_attn.k_proj", kvDim, c.HiddenSize, false),
		l.linearTo(&ly.v, p+"self_attn.v_proj", kvDim, c.HiddenSize, false),
		l.linearTo(&ly.o, p+"self_attn.o_proj", c.HiddenSize, qDim, false),
		l.linearTo(&ly.gate, p+"mlp.gate_proj", c.IntermediateSize, c.HiddenSize, false),
		l.linearTo(&ly.up, p+"mlp.up_proj", c.IntermediateSize, c.HiddenSize, false),
		l.linearTo(&ly.down, p+"mlp.down_proj", c.HiddenSize, c.IntermediateSize, false),
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) normTo(dst *tensor.Weight, name string, n int) func() error {
	return func() (err error) { *dst, err = l.norm(name, n); return err }
}

// norm loads an RMSNorm weight: as stored, or for gemma3 as 1+w in
// float32 (Gemma's norm computes x·(1+w)).
func (l *loader) norm(name string, n int) (tensor.Weight, error) {
	if !isGemma3(l.m.cfg) {
		return l.vector(name, n)
	}
	t, err := l.tensor(name)
	if err != nil {
		return nil, err
	}
	if len(t.Shape) != 1 || t.Shape[0] != n {
		return nil, fmt.Errorf("llama: %s: shape %v, want [%d]", name, t.Shape, n)
	}
	v, err := t.Float32s()
	if err != nil {
		return nil, fmt.Errorf("llama: %s: %w", name, err)
	}
	data := make([]byte, 0, 4*n)
	for _, x := range v {
		data = modelfile.AppendFloat(data, modelfile.F32, 1+x)
	}
	plus := modelfile.Tensor{Name: name + " (1+w)", DType: modelfile.F32, Shape: []int{n}, Data: data}
	return l.load(func() (tensor.Weight, error) { return l.b.LoadDense(plus) })
}

// scaleEmbeddings multiplies the embeddings by m.embedScale and releases x.
func (m *Model) scaleEmbeddings(x tensor.Array) tensor.Array {
	y := m.b.Scale(x, m.embedScale)
	m.b.Release(x)
	return y
}

// softcapLogits is c·tanh(x/c); it releases x.
func (m *Model) softcapLogits(x tensor.Array) tensor.Array {
	b := m.b
	d := b.Scale(x, 1/m.softcap)
	t := b.Tanh(d)
	y := b.Scale(t, m.softcap)
	release(b, x, d, t)
	return y
}

// postNorm is gemma3's RMSNorm of a sublayer's output; it releases x.
func (m *Model) postNorm(x tensor.Array, w tensor.Weight) tensor.Array {
	y := m.b.RMSNorm(x, w, m.eps)
	m.b.Release(x)
	return y
}
