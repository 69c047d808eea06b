package llamatest

import (
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// Reference is the forward pass in plain float64, from the formulas of
// the Llama family (as Hugging Face transformers writes them), on the
// stored weights decoded and dequantized by tensortest. It shares no code
// with package llama or any backend. Keys and values are rounded to the
// KV cache's element type before attention, as a model's cache stores
// them (mlx-lm keeps them in the model's type).
type Reference struct {
	c  modelfile.Config
	w  modelfile.Weights
	kv modelfile.DType
}

// NewReference prepares the reference forward pass of a model. Its KV
// cache type is the contract's: BF16 for a model whose embedding table
// (or, quantized, its scales) is BF16, F16 otherwise.
func NewReference(c modelfile.Config, w modelfile.Weights) *Reference {
	r := &Reference{c: c, w: w, kv: modelfile.F16}
	t, ok := w.Tensor("model.embed_tokens.scales")
	if !ok {
		t = r.must("model.embed_tokens.weight")
	}
	if t.DType == modelfile.BF16 {
		r.kv = modelfile.BF16
	}
	return r
}

// WithKV makes the reference round its cached keys and values to d
// instead (F32 leaves them at float32 precision, for a model whose caches
// were set to F32 with SetKVDType).
func (r *Reference) WithKV(d modelfile.DType) *Reference {
	r.kv = d
	return r
}

// Logits runs the whole sequence and returns the logits of every
// position.
func (r *Reference) Logits(tokens []int) [][]float64 {
	if logits, ok := r.denseLogits(tokens); ok { // reference_dense.go
		return logits
	}
	c := r.c
	n, d := len(tokens), c.HiddenSize
	emb := r.matrix("model.embed_tokens", c.VocabSize, d)
	h := make([]float64, 0, n*d)
	for _, t := range tokens {
		h = append(h, emb[t*d:(t+1)*d]...)
	}
	for i := range c.NumLayers {
		h = r.block(i, h, n)
	}
	h = tensortest.RMSNorm(h, r.vector("model.norm.weight"), c.RMSNormEps)
	head := emb
	if !c.TieWordEmbeddings {
		head = r.matrix("lm_head", c.VocabSize, d)
	}
	flat, _ := tensortest.MatMulT(h, head, n, d, c.VocabSize)
	out := make([][]float64, n)
	for i := range out {
		out[i] = flat[i*c.VocabSize : (i+1)*c.VocabSize]
	}
	return out
}

// block is layer i: h + attn(norm(h)), then + mlp(norm(·)).
func (r *Reference) block(i int, h []float64, n int) []float64 {
	c := r.c
	p := fmt.Sprintf("model.layers.%d.", i)
	window := 0
	if c.LayerWindows != nil {
		window = c.LayerWindows[i]
	}
	x := tensortest.RMSNorm(h, r.vector(p+"input_layernorm.weight"), c.RMSNormEps)
	if c.Architecture == "gpt_oss" { // issue 16
		h = add(h, r.gptOSSAttention(p, x, n))
	} else {
		h = add(h, r.attention(p+"self_attn.", x, n, window))
	}
	x = tensortest.RMSNorm(h, r.vector(p+"post_attention_layernorm.weight"), c.RMSNormEps)
	if r.sparse(p) { // issue 16
		return add(h, r.moe(p, x, n))
	}
	gate := r.linear(p+"mlp.gate_proj", x, n, c.HiddenSize, c.IntermediateSize)
	up := r.linear(p+"mlp.up_proj", x, n, c.HiddenSize, c.IntermediateSize)
	for i := range gate {
		gate[i] = tensortest.SiLU(gate[i]) * up[i]
	}
	return add(h, r.linear(p+"mlp.down_proj", gate, n, c.IntermediateSize, c.HiddenSize))
}

// attention is causal grouped-query attention with RoPE (and qwen3's
// per-head norms before it) over positions 0..n-1; with a window, the
// query at position i sees the keys j with i−window < j ≤ i (see
// tensortest.AttentionWith).
func (r *Reference) attention(p string, x []float64, n, window int) []float64 {
	c := r.c
	qd, kvd := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	q := r.linear(p+"q_proj", x, n, c.HiddenSize, qd)
	k := r.linear(p+"k_proj", x, n, c.HiddenSize, kvd)
	v := r.linear(p+"v_proj", x, n, c.HiddenSize, kvd)
	if c.QKNorm {
		q = tensortest.RMSNorm(q, r.vector(p+"q_norm.weight"), c.RMSNormEps)
		k = tensortest.RMSNorm(k, r.vector(p+"k_norm.weight"), c.RMSNormEps)
	}
	inv := InvFreq(c)
	q = tensortest.Rope(q, qd, c.HeadDim, 0, inv)
	k = tensortest.Rope(k, kvd, c.HeadDim, 0, inv)
	k, v = tensortest.Round(r.kv, k), tensortest.Round(r.kv, v)
	a := tensortest.AttentionWith(q, k, v, n, 0, c.NumHeads, c.NumKVHeads, c.HeadDim, 1/math.Sqrt(float64(c.HeadDim)), window, nil)
	return r.linear(p+"o_proj", a, n, qd, c.HiddenSize)
}

// InvFreq is RoPE's inverse frequencies, with Llama 3's scaling written
// as transformers' _compute_llama3_parameters does (in frequencies, where
// mlx-lm works in periods).
func InvFreq(c modelfile.Config) []float64 {
	dim := c.HeadDim
	inv := make([]float64, dim/2)
	for i := range inv {
		inv[i] = 1 / math.Pow(c.RopeTheta, float64(2*i)/float64(dim))
	}
	s := c.RopeScaling
	if s == nil || s.Type != "llama3" {
		return inv
	}
	old := float64(s.OriginalMaxPositionEmbeddings)
	lowWavelen, highWavelen := old/s.LowFreqFactor, old/s.HighFreqFactor
	for i, f := range inv {
		wavelen := 2 * math.Pi / f
		switch {
		case wavelen < highWavelen:
		case wavelen > lowWavelen:
			inv[i] = f / s.Factor
		default:
			smooth := (old/wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
			inv[i] = (1-smooth)*f/s.Factor + smooth*f
		}
	}
	return inv
}

// linear is x·Wᵀ (+ bias when the model has one).
func (r *Reference) linear(prefix string, x []float64, n, in, out int) []float64 {
	y, _ := tensortest.MatMulT(x, r.matrix(prefix, out, in), n, in, out)
	if b, ok := r.w.Tensor(prefix + ".bias"); ok {
		bias := tensortest.Decode(b)
		for i := range y {
			y[i] += bias[i%out]
		}
	}
	return y
}

// matrix decodes prefix.weight, dequantizing it when it has scales.
func (r *Reference) matrix(prefix string, rows, cols int) []float64 {
	w := r.must(prefix + ".weight")
	if _, ok := r.w.Tensor(prefix + ".scales"); !ok {
		return tensortest.Decode(w)
	}
	s := r.must(prefix + ".scales")
	if s.DType == modelfile.U8 { // mxfp4 (issue 16)
		return tensortest.DequantizeMXFP4(w, s)
	}
	return tensortest.Dequantize(tensortest.Quantized{
		W: w, Scales: s, Biases: r.must(prefix + ".biases"),
		Bits: w.Shape[1] * 32 / cols, GroupSize: cols / s.Shape[1],
	})
}

func (r *Reference) vector(name string) []float64 { return tensortest.Decode(r.must(name)) }

func (r *Reference) must(name string) modelfile.Tensor {
	t, ok := r.w.Tensor(name)
	if !ok {
		panic("llamatest: reference model has no " + name)
	}
	return t
}

func add(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}
