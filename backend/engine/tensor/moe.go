package tensor

import (
	"fmt"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// Mixture-of-experts types (issue 16): the experts' stacked weights and
// the description of one MoE call.

// Expert weight formats of ExpertTensors.Mode.
const (
	ExpertsDense  = ""       // W is F32, F16 or BF16 [experts, rows, cols]
	ExpertsAffine = "affine" // MLX affine quantization, as LoadQuantized per expert
	ExpertsMXFP4  = "mxfp4"  // MLX's mxfp4 (see ExpertTensors)
)

// ExpertTensors are the stored tensors of one projection of every expert
// of a layer, as MLX's SwitchLinear and QuantizedSwitchLinear keep them:
//
//   - dense: W is F32, F16 or BF16 of shape [experts, rows, cols];
//   - affine: W is U32 [experts, rows, cols·Bits/32] and Scales, Biases are
//     F32, F16 or BF16 [experts, rows, cols/GroupSize], each expert's
//     matrix laid out as Loader.LoadQuantized describes;
//   - mxfp4: W is U32 [experts, rows, cols/8] holding 4-bit E2M1 codes
//     (sign bit 3, then two exponent bits and one mantissa bit: the
//     values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}), lowest bits first, and Scales
//     is U8 [experts, rows, cols/32]: one E8M0 scale per group of 32, the
//     power 2^(scale−127); Biases is unused. GroupSize is 32, Bits 4.
type ExpertTensors struct {
	W, Scales, Biases modelfile.Tensor
	Mode              string
	GroupSize, Bits   int
}

// Experts is a stack of matrices, one rows×cols matrix per expert.
type Experts interface {
	Resource
	Shape() (experts, rows, cols int)
}

// ExpertActivation is how an expert combines its gate and up projections.
type ExpertActivation int

const (
	// SwiGLU is silu(gate)·up (qwen3_moe, mixtral).
	SwiGLU ExpertActivation = iota
	// ClampedSwiGLU is gpt-oss's: with g = min(gate, Limit) and
	// u = clamp(up, −Limit, Limit), g·sigmoid(Alpha·g)·(u+1).
	ClampedSwiGLU
)

// MoE describes a sparse mixture-of-experts MLP for Ops.MoE.
//
// Routing: p = softmax(logits row); the TopK experts of largest p are
// chosen, with weights p_e, divided by their sum when Normalize is set
// (which equals a softmax over the chosen logits, as Mixtral and gpt-oss
// route). Between exactly equal p, which expert is chosen is the
// backend's (the CPU takes the lower index; MLX's argpartition does not
// say).
//
// Each chosen expert e computes down_e(act(gate_e(x)+GateBias_e,
// up_e(x)+UpBias_e)) + DownBias_e, where a projection p_e(x) is x·W_eᵀ
// with W_e the expert's rows×cols matrix; the biases are optional
// experts×rows dense weights (row e is expert e's bias).
type MoE struct {
	Gate, Up, Down             Experts
	GateBias, UpBias, DownBias Weight // nil: no bias
	TopK                       int
	Normalize                  bool
	Act                        ExpertActivation
	Alpha, Limit               float32 // ClampedSwiGLU's constants
}

// CheckExperts validates the tensors of Loader.LoadExperts and returns
// the stack's shape.
func CheckExperts(t ExpertTensors) (experts, rows, cols int, err error) {
	if len(t.W.Shape) != 3 || t.W.Shape[0] <= 0 || t.W.Shape[1] <= 0 || t.W.Shape[2] <= 0 {
		return 0, 0, 0, fmt.Errorf("%s: experts of shape %v, want three positive dimensions", t.W.Name, t.W.Shape)
	}
	experts, rows = t.W.Shape[0], t.W.Shape[1]
	switch t.Mode {
	case ExpertsDense:
		if !floatDType(t.W.DType) {
			return 0, 0, 0, fmt.Errorf("%s: dtype %s, want F32, F16 or BF16", t.W.Name, t.W.DType)
		}
		cols = t.W.Shape[2]
		return experts, rows, cols, checkSize(t.W, experts*rows*cols)
	case ExpertsAffine:
		w, s, b := flatten(t.W), flatten(t.Scales), flatten(t.Biases)
		if len(t.Scales.Shape) != 3 || len(t.Biases.Shape) != 3 || t.Scales.Shape[0] != experts || t.Biases.Shape[0] != experts {
			return 0, 0, 0, fmt.Errorf("%s: scales %v and biases %v do not stack %d experts", t.W.Name, t.Scales.Shape, t.Biases.Shape, experts)
		}
		if _, cols, err = CheckQuantized(w, s, b, t.GroupSize, t.Bits); err != nil {
			return 0, 0, 0, err
		}
		return experts, rows, cols, nil
	case ExpertsMXFP4:
		if t.GroupSize != 32 || t.Bits != 4 {
			return 0, 0, 0, fmt.Errorf("%s: mxfp4 with group size %d and %d bits, want 32 and 4", t.W.Name, t.GroupSize, t.Bits)
		}
		if t.W.DType != modelfile.U32 {
			return 0, 0, 0, fmt.Errorf("%s: mxfp4 weight is %s, want U32", t.W.Name, t.W.DType)
		}
		cols = t.W.Shape[2] * 8
		if err := checkSize(t.W, experts*rows*t.W.Shape[2]); err != nil {
			return 0, 0, 0, err
		}
		s := t.Scales
		if s.DType != modelfile.U8 || len(s.Shape) != 3 || s.Shape[0] != experts || s.Shape[1] != rows || s.Shape[2]*32 != cols {
			return 0, 0, 0, fmt.Errorf("%s: scales are %s %v, want U8 [%d %d %d]", t.W.Name, s.DType, s.Shape, experts, rows, cols/32)
		}
		return experts, rows, cols, checkSize(s, experts*rows*cols/32)
	}
	return 0, 0, 0, fmt.Errorf("%s: expert quantization mode %q (want dense, affine or mxfp4)", t.W.Name, t.Mode)
}

// flatten views a 3-D tensor [e, r, c] as the 2-D [e·r, c].
func flatten(t modelfile.Tensor) modelfile.Tensor {
	if len(t.Shape) == 3 {
		t.Shape = []int{t.Shape[0] * t.Shape[1], t.Shape[2]}
	}
	return t
}

// CheckMoE validates the arguments of Ops.MoE: x is n×hidden, logits
// n×experts. It returns the number of experts.
func CheckMoE(xRows, xCols, lRows, lCols int, m MoE) error {
	if m.Gate == nil || m.Up == nil || m.Down == nil {
		return fmt.Errorf("MoE: missing expert weights")
	}
	ge, gr, gc := m.Gate.Shape()
	ue, ur, uc := m.Up.Shape()
	de, dr, dc := m.Down.Shape()
	switch {
	case gc != xCols || uc != xCols || dr != xCols:
		return fmt.Errorf("MoE: x has %d columns; gate takes %d, up %d, down gives %d", xCols, gc, uc, dr)
	case ge != ue || ge != de || gr != ur || dc != gr:
		return fmt.Errorf("MoE: experts gate %d×%d×%d, up %d×%d×%d and down %d×%d×%d do not fit", ge, gr, gc, ue, ur, uc, de, dr, dc)
	case lRows != xRows || lCols != ge:
		return fmt.Errorf("MoE: logits are %d×%d for %d rows and %d experts", lRows, lCols, xRows, ge)
	case m.TopK <= 0 || m.TopK > ge:
		return fmt.Errorf("MoE: top %d of %d experts", m.TopK, ge)
	case m.Act != SwiGLU && m.Act != ClampedSwiGLU:
		return fmt.Errorf("MoE: activation %d", m.Act)
	}
	for _, b := range []struct {
		w    Weight
		rows int
	}{{m.GateBias, gr}, {m.UpBias, ur}, {m.DownBias, dr}} {
		if b.w == nil {
			continue
		}
		if r, c := b.w.Shape(); r != ge || c != b.rows {
			return fmt.Errorf("MoE: expert bias is %d×%d, want %d×%d", r, c, ge, b.rows)
		}
	}
	return nil
}

// CheckMXFP4 validates the tensors of Loader.LoadMXFP4 and returns the
// dequantized shape.
func CheckMXFP4(w, scales modelfile.Tensor) (rows, cols int, err error) {
	if w.DType != modelfile.U32 || len(w.Shape) != 2 || w.Shape[0] <= 0 || w.Shape[1] <= 0 || w.Shape[1]%4 != 0 {
		return 0, 0, fmt.Errorf("%s: mxfp4 weight is %s %v, want U32 [rows, cols/8] with cols a multiple of 32", w.Name, w.DType, w.Shape)
	}
	rows, cols = w.Shape[0], w.Shape[1]*8
	if err := checkSize(w, rows*w.Shape[1]); err != nil {
		return 0, 0, err
	}
	if scales.DType != modelfile.U8 || len(scales.Shape) != 2 || scales.Shape[0] != rows || scales.Shape[1]*32 != cols {
		return 0, 0, fmt.Errorf("%s: scales are %s %v, want U8 [%d %d]", w.Name, scales.DType, scales.Shape, rows, cols/32)
	}
	return rows, cols, checkSize(scales, rows*cols/32)
}
