package llamatest

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// Qwen25_05B is the configuration of mlx-community/Qwen2.5-0.5B-Instruct-4bit:
// a realistic shape for benchmarks (494M parameters, 4-bit, group 64,
// tied embeddings, q/k/v biases).
func Qwen25_05B() modelfile.Config {
	return modelfile.Config{
		Architecture: "qwen2", HiddenSize: 896, IntermediateSize: 4864, NumLayers: 24,
		NumHeads: 14, NumKVHeads: 2, HeadDim: 64, VocabSize: 151936, RMSNormEps: 1e-6,
		RopeTheta: 1e6, MaxPositionEmbeddings: 32768, TieWordEmbeddings: true, AttentionBias: true,
		Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 4},
	}
}

// RandomQuantized makes random weights of cfg's shapes quickly enough for
// models of hundreds of millions of parameters: every matrix is quantized
// (cfg.Quantization is required) with random packed values and BF16
// scales and biases that spread each row's weights over ±sqrt(3/in);
// norms, biases and scales are BF16. It returns the weights and the bytes
// a decode step reads (every tensor once, the tied embedding once).
func RandomQuantized(cfg modelfile.Config, seed uint64) (tensortest.Weights, int) {
	g := &quantGen{q: *cfg.Quantization, w: tensortest.Weights{}, r: fastRand{state: seed*2654435761 + 1}}
	g.matrix("model.embed_tokens", cfg.VocabSize, cfg.HiddenSize)
	if !cfg.TieWordEmbeddings {
		g.matrix("lm_head", cfg.VocabSize, cfg.HiddenSize)
	}
	g.vector("model.norm.weight", cfg.HiddenSize, 1)
	for i := range cfg.NumLayers {
		g.layer(cfg, fmt.Sprintf("model.layers.%d.", i))
	}
	total := 0
	for _, t := range g.w {
		total += len(t.Data)
	}
	return g.w, total
}

// quantGen adds random quantized tensors to w.
type quantGen struct {
	q modelfile.Quantization
	w tensortest.Weights
	r fastRand
}

func (g *quantGen) layer(cfg modelfile.Config, p string) {
	qd, kvd := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	g.vector(p+"input_layernorm.weight", cfg.HiddenSize, 1)
	g.vector(p+"post_attention_layernorm.weight", cfg.HiddenSize, 1)
	g.matrix(p+"self_attn.q_proj", qd, cfg.HiddenSize)
	g.matrix(p+"self_attn.k_proj", kvd, cfg.HiddenSize)
	g.matrix(p+"self_attn.v_proj", kvd, cfg.HiddenSize)
	g.matrix(p+"self_attn.o_proj", cfg.HiddenSize, qd)
	g.matrix(p+"mlp.gate_proj", cfg.IntermediateSize, cfg.HiddenSize)
	g.matrix(p+"mlp.up_proj", cfg.IntermediateSize, cfg.HiddenSize)
	g.matrix(p+"mlp.down_proj", cfg.HiddenSize, cfg.IntermediateSize)
	if cfg.AttentionBias {
		g.vector(p+"self_attn.q_proj.bias", qd, 0.01)
		g.vector(p+"self_attn.k_proj.bias", kvd, 0.01)
		g.vector(p+"self_attn.v_proj.bias", kvd, 0.01)
	}
	if cfg.QKNorm {
		g.vector(p+"self_attn.q_norm.weight", cfg.HeadDim, 1)
		g.vector(p+"self_attn.k_norm.weight", cfg.HeadDim, 1)
	}
}

// matrix adds a quantized rows×cols matrix of weights uniform over
// ±sqrt(3/cols).
func (g *quantGen) matrix(prefix string, rows, cols int) {
	a := math.Sqrt(3 / float64(cols))
	words := make([]byte, rows*cols*g.q.Bits/8)
	g.r.fill(words)
	groups := rows * cols / g.q.GroupSize
	g.w[prefix+".weight"] = modelfile.Tensor{Name: prefix + ".weight", DType: modelfile.U32, Shape: []int{rows, cols * g.q.Bits / 32}, Data: words}
	g.w[prefix+".scales"] = constant(prefix+".scales", float32(2*a/float64(int(1)<<g.q.Bits-1)), groups, rows, cols/g.q.GroupSize)
	g.w[prefix+".biases"] = constant(prefix+".biases", float32(-a), groups, rows, cols/g.q.GroupSize)
}

func (g *quantGen) vector(name string, n int, v float32) { g.w[name] = constant(name, v, n, n) }

// constant is a BF16 tensor of n copies of v.
func constant(name string, v float32, n int, shape ...int) modelfile.Tensor {
	data := make([]byte, 2*n)
	h := tensortest.EncodeBF16(v)
	for i := range n {
		binary.LittleEndian.PutUint16(data[2*i:], h)
	}
	return modelfile.Tensor{Name: name, DType: modelfile.BF16, Shape: shape, Data: data}
}

// fastRand is xorshift64*, fast enough to fill hundreds of megabytes.
type fastRand struct{ state uint64 }

func (r *fastRand) fill(b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		r.state ^= r.state >> 12
		r.state ^= r.state << 25
		r.state ^= r.state >> 27
		binary.LittleEndian.PutUint64(b[i:], r.state*2685821657736338717)
	}
}
