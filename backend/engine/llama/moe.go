package llama

import (
	"fmt"
	"slices"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Mixture-of-experts MLPs (issue 16): qwen3_moe, mixtral and gpt_oss route
// each token to a few experts chosen by a linear router; the experts are
// stacked [experts, out, in] tensors as mlx-lm's SwitchGLU stores them.

// moeLayer is one layer's sparse MLP.
type moeLayer struct {
	router linear     // hidden → experts (gpt-oss: with a bias)
	op     tensor.MoE // the experts and how they are routed and combined
}

// gptOSSAlpha is gpt-oss's SwiGLU sigmoid scale (mlx-lm's swiglu alpha).
const gptOSSAlpha = 1.702

// checkMoE refuses mixture-of-experts configurations the forward pass
// cannot run.
func checkMoE(c modelfile.Config) error {
	e := c.MoE
	switch {
	case e == nil:
		return fmt.Errorf("llama: %s without a mixture-of-experts configuration", c.Architecture)
	case e.Experts <= 0 || e.TopK <= 0 || e.TopK > e.Experts:
		return fmt.Errorf("llama: top %d of %d experts", e.TopK, e.Experts)
	case e.IntermediateSize <= 0:
		return fmt.Errorf("llama: expert intermediate size %d", e.IntermediateSize)
	case (c.Architecture == "gpt_oss") != (e.SwiGLULimit > 0):
		return fmt.Errorf("llama: %s with swiglu_limit %v", c.Architecture, e.SwiGLULimit)
	}
	return nil
}

// moeSteps loads layer p's router and experts into ly.moe.
func (l *loader) moeSteps(p string, ly *layer) []func() error {
	c := l.m.cfg
	e := c.MoE
	gptOSS := e.SwiGLULimit > 0
	ml := &moeLayer{op: tensor.MoE{TopK: e.TopK, Normalize: e.NormTopKProb || c.Architecture != "qwen3_moe"}}
	if gptOSS {
		ml.op.Act, ml.op.Alpha, ml.op.Limit = tensor.ClampedSwiGLU, gptOSSAlpha, float32(e.SwiGLULimit)
	}
	ly.moe = ml
	router, ex := modelfile.MoETensors(c.Architecture)
	h, inter := c.HiddenSize, e.IntermediateSize
	steps := []func() error{
		l.linearTo(&ml.router, p+router, e.Experts, h, gptOSS),
		l.expertsTo(&ml.op.Gate, p+ex+"gate_proj", e.Experts, inter, h),
		l.expertsTo(&ml.op.Up, p+ex+"up_proj", e.Experts, inter, h),
		l.expertsTo(&ml.op.Down, p+ex+"down_proj", e.Experts, h, inter),
	}
	if gptOSS {
		steps = append(steps,
			l.expertBiasTo(&ml.op.GateBias, p+ex+"gate_proj.bias", e.Experts, inter),
			l.expertBiasTo(&ml.op.UpBias, p+ex+"up_proj.bias", e.Experts, inter),
			l.expertBiasTo(&ml.op.DownBias, p+ex+"down_proj.bias", e.Experts, h))
	}
	return steps
}

// expertsTo loads prefix.weight as n experts of rows×cols: dense, or
// quantized when prefix.scales exists — mxfp4 when the scales are U8 and
// there are no biases, affine otherwise (bits and group size read from
// the shapes).
func (l *loader) expertsTo(dst *tensor.Experts, prefix string, n, rows, cols int) func() error {
	return func() error {
		w, err := l.tensor(prefix + ".weight")
		if err != nil {
			return err
		}
		t := tensor.ExpertTensors{W: w}
		if s, ok := l.w.Tensor(prefix + ".scales"); ok {
			t.Scales = s
			if t.Scales.Name == "" {
				t.Scales.Name = prefix + ".scales"
			}
			bi, hasBiases := l.w.Tensor(prefix + ".biases")
			if bi.Name == "" {
				bi.Name = prefix + ".biases"
			}
			if t.Mode, t.GroupSize, t.Bits = tensor.ExpertsMXFP4, 32, 4; s.DType != modelfile.U8 || hasBiases {
				t.Mode, t.Biases = tensor.ExpertsAffine, bi
				if !hasBiases {
					return fmt.Errorf("llama: tensor %s.biases is missing", prefix)
				}
				if len(w.Shape) != 3 || len(s.Shape) != 3 || s.Shape[2] <= 0 || cols%s.Shape[2] != 0 || (w.Shape[2]*32)%cols != 0 {
					return fmt.Errorf("llama: %s: shapes %v and %v are no quantization of %d experts [%d %d]", prefix, w.Shape, s.Shape, n, rows, cols)
				}
				t.Bits, t.GroupSize = w.Shape[2]*32/cols, cols/s.Shape[2]
			}
		}
		err = l.run(func() error {
			x, err := l.b.LoadExperts(t)
			if err == nil {
				if en, r, c := x.Shape(); en != n || r != rows || c != cols {
					x.Free()
					return fmt.Errorf("%s: %d experts of %d×%d, want %d of %d×%d", prefix, en, r, c, n, rows, cols)
				}
				*dst = x
			}
			return l.own(x, err)
		})
		return err
	}
}

// expertBiasTo loads an [experts, rows] bias.
func (l *loader) expertBiasTo(dst *tensor.Weight, name string, n, rows int) func() error {
	return func() (err error) {
		t, err := l.tensor(name)
		if err != nil {
			return err
		}
		if err := checkShape(t, n, rows); err != nil {
			return err
		}
		*dst, err = l.load(func() (tensor.Weight, error) { return l.b.LoadDense(t) })
		return err
	}
}

// sparseMLP routes h through the layer's experts.
func (m *Model) sparseMLP(ml *moeLayer, h tensor.Array) tensor.Array {
	logits := m.linear(h, ml.router)
	out := m.b.MoE(h, logits, ml.op)
	m.b.Release(logits)
	return out
}

// mxfp4Matrix loads a rows×cols matrix stored in mxfp4 (U8 scales, no
// biases).
func (l *loader) mxfp4Matrix(w, s modelfile.Tensor, rows, cols int) (tensor.Weight, error) {
	if !slices.Equal(w.Shape, []int{rows, cols / 8}) || cols%32 != 0 {
		return nil, fmt.Errorf("llama: %s: shape %v is no mxfp4 packing of a [%d %d] matrix", w.Name, w.Shape, rows, cols)
	}
	return l.load(func() (tensor.Weight, error) { return l.b.LoadMXFP4(w, s) })
}
