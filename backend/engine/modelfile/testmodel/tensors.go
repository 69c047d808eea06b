package testmodel

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// kind is how a tensor is initialized and stored.
type kind int

const (
	matrix    kind = iota // linear layer or embedding: quantized when the spec says
	norm                  // RMSNorm weight: 1 + noise
	bias                  // attention bias: small noise
	gemmaNorm             // gemma3's RMSNorm weight w of x·(1+w): noise around 0
)

// tensorDef is one weight of the model: a matrix named by its prefix
// ("<prefix>.weight", or with ".scales" and ".biases" when quantized) or a
// vector named in full.
type tensorDef struct {
	name       string
	kind       kind
	rows, cols int
	experts    int // issue 16: a stack of experts matrices (rows each), or their [experts, rows] biases; 0 otherwise
}

// stored is one tensor as written to a safetensors file.
type stored struct {
	name  string
	dtype modelfile.DType
	shape []int
}

func (t stored) bytes() int64 {
	n := int64(t.dtype.Size())
	for _, d := range t.shape {
		n *= int64(d)
	}
	return n
}

// defs lists the model's weights in file order.
func (s Spec) defs() []tensorDef {
	if defs, ok := s.denseDefs(); ok {
		return defs
	}
	h, q, kv, inter := s.HiddenSize, s.NumHeads*s.HeadDim, s.NumKVHeads*s.HeadDim, s.IntermediateSize
	defs := []tensorDef{{"model.embed_tokens", matrix, s.VocabSize, h, 0}}
	for i := range s.NumLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		defs = append(defs,
			tensorDef{p + "input_layernorm.weight", norm, 1, h, 0},
			tensorDef{p + "self_attn.q_proj", matrix, q, h, 0},
			tensorDef{p + "self_attn.k_proj", matrix, kv, h, 0},
			tensorDef{p + "self_attn.v_proj", matrix, kv, h, 0},
			tensorDef{p + "self_attn.o_proj", matrix, h, q, 0})
		if s.Architecture == "qwen2" || s.AttentionBias {
			defs = append(defs, tensorDef{p + "self_attn.q_proj.bias", bias, 1, q, 0},
				tensorDef{p + "self_attn.k_proj.bias", bias, 1, kv, 0}, tensorDef{p + "self_attn.v_proj.bias", bias, 1, kv, 0})
		}
		if s.AttentionBias {
			defs = append(defs, tensorDef{p + "self_attn.o_proj.bias", bias, 1, h, 0})
		}
		if s.Architecture == "qwen3" || s.Architecture == "qwen3_moe" {
			defs = append(defs, tensorDef{p + "self_attn.q_norm.weight", norm, 1, s.HeadDim, 0},
				tensorDef{p + "self_attn.k_norm.weight", norm, 1, s.HeadDim, 0})
		}
		defs = append(defs, tensorDef{p + "post_attention_layernorm.weight", norm, 1, h, 0})
		if s.sparse(i) { // issue 16
			defs = append(defs, s.moeDefs(p)...)
			continue
		}
		defs = append(defs,
			tensorDef{p + "mlp.gate_proj", matrix, inter, h, 0},
			tensorDef{p + "mlp.up_proj", matrix, inter, h, 0},
			tensorDef{p + "mlp.down_proj", matrix, h, inter, 0})
		if s.MLPBias {
			defs = append(defs, tensorDef{p + "mlp.gate_proj.bias", bias, 1, inter, 0},
				tensorDef{p + "mlp.up_proj.bias", bias, 1, inter, 0}, tensorDef{p + "mlp.down_proj.bias", bias, 1, h, 0})
		}
	}
	defs = append(defs, tensorDef{"model.norm.weight", norm, 1, h, 0})
	if !s.TieWordEmbeddings {
		defs = append(defs, tensorDef{"lm_head", matrix, s.VocabSize, h, 0})
	}
	return defs
}

// quantized reports whether d is stored quantized: as mlx-lm's
// quantize_model does, every linear layer and the embedding whose input
// size is a multiple of the group size.
func (s Spec) quantized(d tensorDef) bool {
	return d.kind == matrix && s.Quantization != nil && d.cols%s.Quantization.GroupSize == 0
}

// storedOf lists the tensors d is written as, in file order.
func (s Spec) storedOf(d tensorDef) []stored {
	if d.experts > 0 { // issue 16
		return s.storedExperts(d)
	}
	if s.mxfp4(d) { // issue 16
		return []stored{{d.name + ".weight", modelfile.U32, []int{d.rows, d.cols / 8}}, {d.name + ".scales", modelfile.U8, []int{d.rows, d.cols / 32}}}
	}
	switch {
	case d.kind != matrix:
		return []stored{{d.name, s.DType, []int{d.cols}}}
	case !s.quantized(d):
		return []stored{{d.name + ".weight", s.DType, []int{d.rows, d.cols}}}
	}
	q := s.Quantization
	groups := []int{d.rows, d.cols / q.GroupSize}
	return []stored{
		{d.name + ".weight", modelfile.U32, []int{d.rows, d.cols * q.Bits / 32}},
		{d.name + ".scales", s.DType, groups},
		{d.name + ".biases", s.DType, slices.Clone(groups)},
	}
}

// rows yields d's float32 values row by row, reusing one buffer. The
// values depend only on the seed and d's name, so any tensor can be
// regenerated alone.
func (s Spec) rows(d tensorDef) func(yield func(row []float32) bool) {
	return func(yield func([]float32) bool) {
		h := fnv.New64a()
		h.Write([]byte(d.name))
		rng := rand.New(rand.NewPCG(s.Seed, h.Sum64()))
		mean, std := float32(0), float32(1/math.Sqrt(float64(d.cols)))
		switch d.kind {
		case norm:
			mean, std = 1, 0.1
		case bias, gemmaNorm:
			std = 0.1
		}
		row := make([]float32, d.cols)
		for range d.rows * max(d.experts, 1) {
			for i := range row {
				row[i] = mean + std*float32(rng.NormFloat64())
			}
			if !yield(row) {
				return
			}
		}
	}
}

// Original returns the float32 values (row-major) and shape of the named
// tensor of the model Write writes for s, before conversion to s.DType or
// quantization: name is a stored name such as
// "model.layers.0.self_attn.q_proj.weight" (whether or not that matrix is
// quantized) or "model.norm.weight". ok is false for a name the model
// does not have (including ".scales" and ".biases").
func Original(s Spec, name string) (values []float32, shape []int, ok bool) {
	s = s.withDefaults()
	for _, d := range s.defs() {
		if (d.kind == matrix && d.name+".weight" == name) || (d.kind != matrix && d.name == name) {
			for row := range s.rows(d) {
				values = append(values, row...)
			}
			if d.experts > 0 {
				return values, expertShape(d), true
			}
			if d.kind != matrix {
				return values, []int{d.cols}, true
			}
			return values, []int{d.rows, d.cols}, true
		}
	}
	return nil, nil, false
}
