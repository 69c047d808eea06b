package llama

import (
	"fmt"
	"math"
	"slices"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Added for phi3 (issue 16, dense). Phi-3 and Phi-4-mini are the Llama
// forward pass with
//   - fused projections: qkv_proj (rows q, then k, then v) and
//     gate_up_proj (rows gate, then up), split by rows at load into the
//     separate projections (rows are independent, dense or quantized);
//   - partial_rotary_factor: RoPE turns only the first
//     head_dim·partial_rotary_factor values of each head (RopePartial);
//   - rope_scaling "longrope" (or "su") as mlx-lm's SuScaledRoPE does it:
//     the frequency of pair i is divided by long_factor[i] at every
//     sequence length (transformers switches to short_factor below
//     original_max_position_embeddings; mlx-lm, whose weights these are,
//     does not), and the rotated values of q and k are multiplied by
//     sqrt(1 + ln(f)/ln(original_max_position_embeddings)) with f =
//     max_position_embeddings/original_max_position_embeddings (1 when
//     f ≤ 1). That factor is folded into the q and k rows of the rotated
//     values at load (RoPE is linear), so the forward pass is unchanged;
//   - sliding_window on every layer (Config.LayerWindows).

// longropePeriods multiplies RoPE's periods by the long factors.
func longropePeriods(periods []float64, s modelfile.RopeScaling) error {
	if len(s.LongFactor) != len(periods) {
		return fmt.Errorf("llama: longrope has %d long factors for %d rotated pairs", len(s.LongFactor), len(periods))
	}
	for i := range periods {
		if !(s.LongFactor[i] > 0) {
			return fmt.Errorf("llama: longrope long factor %v", s.LongFactor[i])
		}
		periods[i] *= s.LongFactor[i]
	}
	return nil
}

// longropeScale is the factor of the rotated values of q and k.
func longropeScale(c modelfile.Config) float64 {
	s := c.RopeScaling
	if s == nil || s.Type != "longrope" || s.OriginalMaxPositionEmbeddings <= 0 {
		return 1
	}
	orig := float64(s.OriginalMaxPositionEmbeddings)
	f := float64(c.MaxPositionEmbeddings) / orig
	if f <= 1 {
		return 1
	}
	return math.Sqrt(1 + math.Log(f)/math.Log(orig))
}

// phi3Layer loads block i of a phi3 model, splitting its fused
// projections.
func (l *loader) phi3Layer(i int, ly *layer) error {
	c := l.m.cfg
	p := fmt.Sprintf("model.layers.%d.", i)
	qDim, kvDim, inter := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim, c.IntermediateSize
	steps := []func() error{
		l.vectorTo(&ly.attnNorm, p+"input_layernorm.weight", c.HiddenSize),
		l.vectorTo(&ly.mlpNorm, p+"post_attention_layernorm.weight", c.HiddenSize),
		l.linearTo(&ly.o, p+"self_attn.o_proj", c.HiddenSize, qDim, false),
		l.linearTo(&ly.down, p+"mlp.down_proj", c.HiddenSize, inter, false),
		func() error {
			scale := l.rotaryRowScale(c.NumHeads+c.NumKVHeads, qDim+kvDim)
			return l.splitRows(p+"self_attn.qkv_proj", c.HiddenSize, scale, []int{qDim, kvDim, kvDim}, &ly.q.w, &ly.k.w, &ly.v.w)
		},
		func() error {
			return l.splitRows(p+"mlp.gate_up_proj", c.HiddenSize, nil, []int{inter, inter}, &ly.gate.w, &ly.up.w)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// rotaryRowScale is the longrope factor of each of the first rows of
// qkv_proj (the q and k heads' rotated values), nil when it is 1.
func (l *loader) rotaryRowScale(heads, rows int) []float32 {
	c := l.m.cfg
	ms := longropeScale(c)
	if ms == 1 {
		return nil
	}
	scale := make([]float32, rows)
	for h := range heads {
		for j := range c.HeadDim {
			scale[h*c.HeadDim+j] = 1
			if j < rotaryDims(c) {
				scale[h*c.HeadDim+j] = float32(ms)
			}
		}
	}
	return scale
}

// splitRows loads the fused matrix prefix (dense or quantized) of
// sum(parts) rows × cols as consecutive row blocks into dsts, first
// multiplying row r by scale[r] for r < len(scale).
func (l *loader) splitRows(prefix string, cols int, scale []float32, parts []int, dsts ...*tensor.Weight) error {
	rows := 0
	for _, n := range parts {
		rows += n
	}
	w, err := l.tensor(prefix + ".weight")
	if err != nil {
		return err
	}
	_, quantized := l.w.Tensor(prefix + ".scales")
	var s, bi modelfile.Tensor
	bits, group := 0, 0
	if quantized {
		if s, err = l.tensor(prefix + ".scales"); err == nil {
			bi, err = l.tensor(prefix + ".biases")
		}
		if err == nil {
			bits, group, err = quantShape(w, s, rows, cols)
		}
		if err == nil && !slices.Equal(bi.Shape, s.Shape) {
			err = fmt.Errorf("llama: %s: shape %v, want %v", bi.Name, bi.Shape, s.Shape)
		}
	} else {
		err = checkShape(w, rows, cols)
	}
	if err != nil {
		return err
	}
	start := 0
	for i, n := range parts {
		part := func(t modelfile.Tensor, rowScale []float32) modelfile.Tensor {
			return scaledRows(sliceRows(t, start, n, fmt.Sprintf("[rows %d:%d]", start, start+n)), rowScale)
		}
		rs := scaleFor(scale, start, n)
		var wt tensor.Weight
		if quantized {
			pw, ps, pb := sliceRows(w, start, n, fmt.Sprintf("[rows %d:%d]", start, start+n)), part(s, rs), part(bi, rs)
			wt, err = l.load(func() (tensor.Weight, error) { return l.b.LoadQuantized(pw, ps, pb, group, bits) })
		} else {
			pw := part(w, rs)
			wt, err = l.load(func() (tensor.Weight, error) { return l.b.LoadDense(pw) })
		}
		if err != nil {
			return err
		}
		*dsts[i] = wt
		start += n
	}
	return nil
}

// scaleFor is scale's rows start..start+n-1, nil when there are none.
func scaleFor(scale []float32, start, n int) []float32 {
	if start >= len(scale) {
		return nil
	}
	return scale[start:min(start+n, len(scale))]
}

// sliceRows views rows start..start+n-1 of a 2-D tensor (no copy). The
// view has no File: it is not a tensor of the file.
func sliceRows(t modelfile.Tensor, start, n int, what string) modelfile.Tensor {
	rowBytes := len(t.Data) / t.Shape[0]
	return modelfile.Tensor{Name: t.Name + what, DType: t.DType, Shape: []int{n, t.Shape[1]},
		Data: t.Data[start*rowBytes : (start+n)*rowBytes]}
}

// scaledRows returns t (a float matrix) with row r multiplied by scale[r],
// as float32; t itself when scale is nil.
func scaledRows(t modelfile.Tensor, scale []float32) modelfile.Tensor {
	if scale == nil {
		return t
	}
	v, err := t.Float32s()
	if err != nil {
		return t // LoadDense reports the bad tensor
	}
	cols := t.Shape[1]
	data := make([]byte, 0, 4*len(v))
	for i, x := range v {
		if r := i / cols; r < len(scale) {
			x *= scale[r]
		}
		data = modelfile.AppendFloat(data, modelfile.F32, x)
	}
	return modelfile.Tensor{Name: t.Name + " (longrope-scaled)", DType: modelfile.F32, Shape: slices.Clone(t.Shape), Data: data}
}
