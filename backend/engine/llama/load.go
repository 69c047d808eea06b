package llama

import (
	"fmt"
	"slices"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// loader moves tensors onto the backend, one Run per tensor so that other
// models' requests are not stalled while a model loads.
type loader struct {
	w modelfile.Weights
	b tensor.Backend
	m *Model
}

// model loads every tensor of the model in mlx-lm's naming.
func (l *loader) model(invFreq []float64) error {
	c, m := l.m.cfg, l.m
	var err error
	if m.embed, err = l.matrix("model.embed_tokens", c.VocabSize, c.HiddenSize); err != nil {
		return err
	}
	m.lmHead = m.embed
	if !c.TieWordEmbeddings {
		if m.lmHead, err = l.matrix("lm_head", c.VocabSize, c.HiddenSize); err != nil {
			return err
		}
	}
	if m.norm, err = l.norm("model.norm.weight", c.HiddenSize); err != nil {
		return err
	}
	m.layers = make([]layer, c.NumLayers)
	loadLayer := l.familyLayer()
	for i := range m.layers {
		if err := loadLayer(i, &m.layers[i]); err != nil {
			return err
		}
	}
	err = l.run(func() (err error) {
		m.rope, err = l.b.NewRope(rotaryDims(c), invFreq)
		return l.own(m.rope, err)
	})
	if err != nil {
		return err
	}
	for i := range m.layers {
		m.layers[i].rope = m.rope
		if c.LayerWindows != nil {
			m.layers[i].window = c.LayerWindows[i]
		}
	}
	return l.family()
}

// layer loads block i.
func (l *loader) layer(i int, ly *layer) error {
	c := l.m.cfg
	p := fmt.Sprintf("model.layers.%d.", i)
	qDim, kvDim := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	steps := []func() error{
		l.vectorTo(&ly.attnNorm, p+"input_layernorm.weight", c.HiddenSize),
		l.vectorTo(&ly.mlpNorm, p+"post_attention_layernorm.weight", c.HiddenSize),
		l.linearTo(&ly.q, p+"self_attn.q_proj", qDim, c.HiddenSize, c.AttentionBias),
		l.linearTo(&ly.k, p+"self_attn.k_proj", kvDim, c.HiddenSize, c.AttentionBias),
		l.linearTo(&ly.v, p+"self_attn.v_proj", kvDim, c.HiddenSize, c.AttentionBias),
		l.linearTo(&ly.o, p+"self_attn.o_proj", c.HiddenSize, qDim, false),
	}
	if c.MoE.Sparse(i) {
		steps = append(steps, l.moeSteps(p, ly)...)
	} else {
		steps = append(steps,
			l.linearTo(&ly.gate, p+"mlp.gate_proj", c.IntermediateSize, c.HiddenSize, false),
			l.linearTo(&ly.up, p+"mlp.up_proj", c.IntermediateSize, c.HiddenSize, false),
			l.linearTo(&ly.down, p+"mlp.down_proj", c.HiddenSize, c.IntermediateSize, false))
	}
	if c.AttentionSinks {
		steps = append(steps, l.vectorTo(&ly.sinks, p+"self_attn.sinks", c.NumHeads))
	}
	if c.QKNorm {
		steps = append(steps, l.vectorTo(&ly.qNorm, p+"self_attn.q_norm.weight", c.HeadDim),
			l.vectorTo(&ly.kNorm, p+"self_attn.k_norm.weight", c.HeadDim))
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) vectorTo(dst *tensor.Weight, name string, n int) func() error {
	return func() (err error) { *dst, err = l.vector(name, n); return err }
}

// linearTo loads prefix.weight (dense or quantized) as a rows×cols
// projection, and prefix.bias when present (required when needBias).
func (l *loader) linearTo(dst *linear, prefix string, rows, cols int, needBias bool) func() error {
	return func() (err error) {
		if dst.w, err = l.matrix(prefix, rows, cols); err != nil {
			return err
		}
		if _, ok := l.w.Tensor(prefix + ".bias"); ok || needBias {
			dst.bias, err = l.vector(prefix+".bias", rows)
		}
		return err
	}
}

// matrix loads prefix.weight as a rows×cols matrix: quantized when
// prefix.scales exists (bits and group size read from the shapes, so
// mixed-precision models load too), dense otherwise.
func (l *loader) matrix(prefix string, rows, cols int) (tensor.Weight, error) {
	w, err := l.tensor(prefix + ".weight")
	if err != nil {
		return nil, err
	}
	if _, quantized := l.w.Tensor(prefix + ".scales"); !quantized {
		if err := checkShape(w, rows, cols); err != nil {
			return nil, err
		}
		return l.load(func() (tensor.Weight, error) { return l.b.LoadDense(w) })
	}
	s, err := l.tensor(prefix + ".scales")
	if err != nil {
		return nil, err
	}
	if s.DType == modelfile.U8 { // mxfp4 (issue 16)
		return l.mxfp4Matrix(w, s, rows, cols)
	}
	bi, err := l.tensor(prefix + ".biases")
	if err != nil {
		return nil, err
	}
	bits, group, err := quantShape(w, s, rows, cols)
	if err != nil {
		return nil, err
	}
	return l.load(func() (tensor.Weight, error) { return l.b.LoadQuantized(w, s, bi, group, bits) })
}

// quantShape infers bits and group size from a quantized matrix's
// shapes: w is [rows, cols·bits/32] and scales [rows, cols/group].
func quantShape(w, s modelfile.Tensor, rows, cols int) (bits, group int, err error) {
	if len(w.Shape) != 2 || w.Shape[0] != rows || w.Shape[1] <= 0 || (w.Shape[1]*32)%cols != 0 {
		return 0, 0, fmt.Errorf("llama: %s: shape %v is no packing of a [%d %d] matrix", w.Name, w.Shape, rows, cols)
	}
	if len(s.Shape) != 2 || s.Shape[0] != rows || s.Shape[1] <= 0 || cols%s.Shape[1] != 0 {
		return 0, 0, fmt.Errorf("llama: %s: shape %v does not group a [%d %d] matrix", s.Name, s.Shape, rows, cols)
	}
	return w.Shape[1] * 32 / cols, cols / s.Shape[1], nil
}

// vector loads a 1-D tensor of n values.
func (l *loader) vector(name string, n int) (tensor.Weight, error) {
	t, err := l.tensor(name)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(t.Shape, []int{n}) {
		return nil, fmt.Errorf("llama: %s: shape %v, want [%d]", name, t.Shape, n)
	}
	return l.load(func() (tensor.Weight, error) { return l.b.LoadDense(t) })
}

func (l *loader) tensor(name string) (modelfile.Tensor, error) {
	t, ok := l.w.Tensor(name)
	if !ok {
		return t, fmt.Errorf("llama: tensor %s is missing", name)
	}
	if t.Name == "" {
		t.Name = name
	}
	return t, nil
}

func checkShape(t modelfile.Tensor, rows, cols int) error {
	if !slices.Equal(t.Shape, []int{rows, cols}) {
		return fmt.Errorf("llama: %s: shape %v, want [%d %d]", t.Name, t.Shape, rows, cols)
	}
	return nil
}

// load runs fn on the backend and records the weight for Close.
func (l *loader) load(fn func() (tensor.Weight, error)) (tensor.Weight, error) {
	var w tensor.Weight
	err := l.run(func() (err error) {
		w, err = fn()
		return l.own(w, err)
	})
	return w, err
}

func (l *loader) run(fn func() error) error {
	if err := l.b.Run(fn); err != nil {
		return fmt.Errorf("llama: %w", err)
	}
	return nil
}

// own records a newly made resource so that Close frees it.
func (l *loader) own(r tensor.Resource, err error) error {
	if err == nil {
		l.m.owned = append(l.m.owned, r)
	}
	return err
}
