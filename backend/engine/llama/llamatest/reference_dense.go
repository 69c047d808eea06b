package llamatest

import (
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// Added for gemma3, phi3 and smollm3 (issue 16, dense): their forward
// passes in float64, written from Hugging Face transformers'
// modeling_gemma3 (Gemma3ForCausalLM), modeling_phi3 (Phi3ForCausalLM)
// and modeling_smollm3 (SmolLM3ForCausalLM), with one deliberate
// difference: phi3's longrope uses the long factors at every length, as
// mlx-lm's SuScaledRoPE does (transformers uses the short ones while the
// sequence is within original_max_position_embeddings). Keys and values
// are attended as computed (the backends' cached precision is the
// Reference's business, as for the Llama family).

// denseLogits runs the families of this file; false for the others.
func (r *Reference) denseLogits(tokens []int) ([][]float64, bool) {
	c := r.c
	var h []float64
	var block func(i int, h []float64, n int) []float64
	n, d := len(tokens), c.HiddenSize
	switch c.Architecture {
	case "gemma3", "gemma3_text":
		h, block = r.embed(tokens, r.gemma3EmbedScale()), r.gemma3Block
	case "phi3":
		h, block = r.embed(tokens, 1), r.phi3Block
	case "smollm3":
		h, block = r.embed(tokens, 1), r.smollm3Block
	default:
		return nil, false
	}
	for i := range c.NumLayers {
		h = block(i, h, n)
	}
	h = r.norm("model.norm.weight", h)
	head := r.matrix("model.embed_tokens", c.VocabSize, d)
	if !c.TieWordEmbeddings {
		head = r.matrix("lm_head", c.VocabSize, d)
	}
	flat, _ := tensortest.MatMulT(h, head, n, d, c.VocabSize)
	if capAt := c.FinalLogitSoftcap; capAt > 0 {
		for i, v := range flat {
			flat[i] = math.Tanh(v/capAt) * capAt
		}
	}
	out := make([][]float64, n)
	for i := range out {
		out[i] = flat[i*c.VocabSize : (i+1)*c.VocabSize]
	}
	return out, true
}

// embed gathers the tokens' embeddings times scale.
func (r *Reference) embed(tokens []int, scale float64) []float64 {
	d := r.c.HiddenSize
	emb := r.matrix("model.embed_tokens", r.c.VocabSize, d)
	h := make([]float64, 0, len(tokens)*d)
	for _, t := range tokens {
		for _, v := range emb[t*d : (t+1)*d] {
			h = append(h, v*scale)
		}
	}
	return h
}

// gemma3EmbedScale is Gemma3TextScaledWordEmbedding's embed_scale,
// sqrt(hidden_size) cast to the embedding weight's dtype (for an MLX
// quantized embedding, the dtype it dequantizes to: its scales').
func (r *Reference) gemma3EmbedScale() float64 {
	dt := r.must("model.embed_tokens.weight").DType
	if s, ok := r.w.Tensor("model.embed_tokens.scales"); ok {
		dt = s.DType
	}
	v := float32(math.Sqrt(float64(r.c.HiddenSize)))
	switch dt {
	case modelfile.BF16:
		v = modelfile.BFloat16ToFloat32(modelfile.Float32ToBFloat16(v))
	case modelfile.F16:
		v = modelfile.Float16ToFloat32(modelfile.Float32ToFloat16(v))
	}
	return float64(v)
}

// norm is the family's RMSNorm of each row (Gemma3RMSNorm: x·(1+w)).
func (r *Reference) norm(name string, x []float64) []float64 {
	w := r.vector(name)
	if r.c.Architecture == "gemma3" || r.c.Architecture == "gemma3_text" {
		for i := range w {
			w[i]++
		}
	}
	return tensortest.RMSNorm(x, w, r.c.RMSNormEps)
}

// gemma3Block is Gemma3DecoderLayer: both sublayers' outputs are
// normalized before their residual adds.
func (r *Reference) gemma3Block(i int, h []float64, n int) []float64 {
	c := r.c
	p := fmt.Sprintf("model.layers.%d.", i)
	x := r.norm(p+"input_layernorm.weight", h)
	q := r.linear(p+"self_attn.q_proj", x, n, c.HiddenSize, c.NumHeads*c.HeadDim)
	k := r.linear(p+"self_attn.k_proj", x, n, c.HiddenSize, c.NumKVHeads*c.HeadDim)
	v := r.linear(p+"self_attn.v_proj", x, n, c.HiddenSize, c.NumKVHeads*c.HeadDim)
	q, k = r.norm(p+"self_attn.q_norm.weight", q), r.norm(p+"self_attn.k_norm.weight", k)
	window := c.LayerWindows[i]
	theta, scaling := c.RopeTheta, c.RopeScaling
	if window > 0 { // sliding layers: rotary_emb_local, rope_local_base_freq and no scaling
		theta, scaling = c.RopeLocalTheta, nil
	}
	inv := ropeInv(c.HeadDim, theta, 1)
	if scaling != nil && scaling.Type == "linear" {
		for j := range inv {
			inv[j] /= scaling.Factor
		}
	}
	q, k = rotate(q, c.NumHeads, c.HeadDim, c.HeadDim, inv, 1), rotate(k, c.NumKVHeads, c.HeadDim, c.HeadDim, inv, 1)
	a := attend(q, tensortest.Round(r.kv, k), tensortest.Round(r.kv, v), n, c.NumHeads, c.NumKVHeads, c.HeadDim, math.Pow(c.QueryPreAttnScalar, -0.5), window)
	a = r.linear(p+"self_attn.o_proj", a, n, c.NumHeads*c.HeadDim, c.HiddenSize)
	h = add(h, r.norm(p+"post_attention_layernorm.weight", a))
	x = r.norm(p+"pre_feedforward_layernorm.weight", h)
	gate := r.linear(p+"mlp.gate_proj", x, n, c.HiddenSize, c.IntermediateSize)
	up := r.linear(p+"mlp.up_proj", x, n, c.HiddenSize, c.IntermediateSize)
	for j := range gate {
		gate[j] = tensortest.GELUTanh(gate[j]) * up[j]
	}
	m := r.linear(p+"mlp.down_proj", gate, n, c.IntermediateSize, c.HiddenSize)
	return add(h, r.norm(p+"post_feedforward_layernorm.weight", m))
}

// phi3Block is Phi3DecoderLayer: fused qkv_proj and gate_up_proj, RoPE
// on the first rotary_ndims of each head scaled by longrope's attention
// factor, and the sliding window on every layer.
func (r *Reference) phi3Block(i int, h []float64, n int) []float64 {
	c := r.c
	p := fmt.Sprintf("model.layers.%d.", i)
	qd, kvd := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	x := r.norm(p+"input_layernorm.weight", h)
	qkv := r.linear(p+"self_attn.qkv_proj", x, n, c.HiddenSize, qd+2*kvd)
	q, k, v := columns(qkv, n, 0, qd), columns(qkv, n, qd, kvd), columns(qkv, n, qd+kvd, kvd)
	rot := c.HeadDim
	if c.RotaryDims > 0 {
		rot = c.RotaryDims
	}
	inv, factor := ropeInv(rot, c.RopeTheta, 1), 1.0
	if s := c.RopeScaling; s != nil && s.Type == "longrope" {
		for j := range inv {
			inv[j] /= s.LongFactor[j] // inv_freq = 1/(ext_factors · base^(2j/dim))
		}
		if f := float64(c.MaxPositionEmbeddings) / float64(s.OriginalMaxPositionEmbeddings); f > 1 {
			factor = math.Sqrt(1 + math.Log(f)/math.Log(float64(s.OriginalMaxPositionEmbeddings)))
		}
	}
	q, k = rotate(q, c.NumHeads, c.HeadDim, rot, inv, factor), rotate(k, c.NumKVHeads, c.HeadDim, rot, inv, factor)
	window := 0
	if c.LayerWindows != nil {
		window = c.LayerWindows[i]
	}
	a := attend(q, tensortest.Round(r.kv, k), tensortest.Round(r.kv, v), n, c.NumHeads, c.NumKVHeads, c.HeadDim, 1/math.Sqrt(float64(c.HeadDim)), window)
	h = add(h, r.linear(p+"self_attn.o_proj", a, n, qd, c.HiddenSize))
	x = r.norm(p+"post_attention_layernorm.weight", h)
	gu := r.linear(p+"mlp.gate_up_proj", x, n, c.HiddenSize, 2*c.IntermediateSize)
	gate, up := columns(gu, n, 0, c.IntermediateSize), columns(gu, n, c.IntermediateSize, c.IntermediateSize)
	for j := range gate {
		up[j] *= tensortest.SiLU(gate[j])
	}
	return add(h, r.linear(p+"mlp.down_proj", up, n, c.IntermediateSize, c.HiddenSize))
}

// smollm3Block is SmolLM3DecoderLayer: Llama's, without RoPE where
// no_rope_layers says 0.
func (r *Reference) smollm3Block(i int, h []float64, n int) []float64 {
	c := r.c
	p := fmt.Sprintf("model.layers.%d.", i)
	qd, kvd := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	x := r.norm(p+"input_layernorm.weight", h)
	q := r.linear(p+"self_attn.q_proj", x, n, c.HiddenSize, qd)
	k := r.linear(p+"self_attn.k_proj", x, n, c.HiddenSize, kvd)
	v := r.linear(p+"self_attn.v_proj", x, n, c.HiddenSize, kvd)
	if c.LayerNoRope == nil || !c.LayerNoRope[i] {
		inv := ropeInv(c.HeadDim, c.RopeTheta, 1)
		q, k = rotate(q, c.NumHeads, c.HeadDim, c.HeadDim, inv, 1), rotate(k, c.NumKVHeads, c.HeadDim, c.HeadDim, inv, 1)
	}
	a := attend(q, tensortest.Round(r.kv, k), tensortest.Round(r.kv, v), n, c.NumHeads, c.NumKVHeads, c.HeadDim, 1/math.Sqrt(float64(c.HeadDim)), 0)
	h = add(h, r.linear(p+"self_attn.o_proj", a, n, qd, c.HiddenSize))
	x = r.norm(p+"post_attention_layernorm.weight", h)
	gate := r.linear(p+"mlp.gate_proj", x, n, c.HiddenSize, c.IntermediateSize)
	up := r.linear(p+"mlp.up_proj", x, n, c.HiddenSize, c.IntermediateSize)
	for j := range gate {
		gate[j] = tensortest.SiLU(gate[j]) * up[j]
	}
	return add(h, r.linear(p+"mlp.down_proj", gate, n, c.IntermediateSize, c.HiddenSize))
}

// ropeInv is 1/base^(2j/dim) for the dim/2 pairs, divided by div.
func ropeInv(dim int, base, div float64) []float64 {
	inv := make([]float64, dim/2)
	for j := range inv {
		inv[j] = 1 / math.Pow(base, float64(2*j)/float64(dim)) / div
	}
	return inv
}

// rotate is apply_rotary_pos_emb on the first rot values of each
// headDim-wide head of every row (row = position): with cos and sin times
// factor, q_rot·cos + rotate_half(q_rot)·sin, the rest passed through.
func rotate(x []float64, heads, headDim, rot int, inv []float64, factor float64) []float64 {
	out := append([]float64(nil), x...)
	half := rot / 2
	for pos := 0; pos*heads*headDim < len(x); pos++ {
		for h := range heads {
			base := (pos*heads + h) * headDim
			for j := range half {
				cos, sin := math.Cos(float64(pos)*inv[j])*factor, math.Sin(float64(pos)*inv[j])*factor
				a, b := x[base+j], x[base+j+half]
				out[base+j] = a*cos - b*sin
				out[base+j+half] = b*cos + a*sin
			}
		}
	}
	return out
}

// attend is causal grouped-query attention over positions 0..n-1, where
// position p sees p-window+1..p when window > 0 (transformers' sliding
// window mask).
func attend(q, k, v []float64, n, heads, kvHeads, dim int, scale float64, window int) []float64 {
	out := make([]float64, n*heads*dim)
	group := heads / kvHeads
	for p := range n {
		first := 0
		if window > 0 {
			first = max(0, p-window+1)
		}
		for h := range heads {
			g := h / group
			qh := q[(p*heads+h)*dim : (p*heads+h+1)*dim]
			scores := make([]float64, p+1-first)
			for j := range scores {
				kp := k[((first+j)*kvHeads+g)*dim:]
				for d := range dim {
					scores[j] += qh[d] * kp[d]
				}
				scores[j] *= scale
			}
			w := tensortest.Softmax(scores)
			for j, wj := range w {
				vp := v[((first+j)*kvHeads+g)*dim:]
				for d := range dim {
					out[(p*heads+h)*dim+d] += wj * vp[d]
				}
			}
		}
	}
	return out
}

// columns copies columns start..start+width-1 of an n-row matrix.
func columns(x []float64, n, start, width int) []float64 {
	cols := len(x) / n
	out := make([]float64, 0, n*width)
	for r := range n {
		out = append(out, x[r*cols+start:r*cols+start+width]...)
	}
	return out
}
