//go:build cgo && (linux || darwin)

package mlx

/*
#include "mlxc.h"
*/
import "C"

import (
	"fmt"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Mixture-of-experts (issue 16): the experts stay in MLX's layout on the
// device, and MoE routes on the device (argpartition) and runs the chosen
// experts with gather_qmm, so a decode step records its whole graph
// without reading the router's choice back.

// experts is a stack of expert matrices on the device: float32 values, or
// packed words with per-group scales (float32 for affine, uint8 E8M0 for
// mxfp4) and affine biases.
type experts struct {
	b                 *Backend
	w, scales, biases C.mb_array
	n, rows, cols     int
	mode              C.int
	group, bits       int
	freed             bool
}

// Shape reports the number of experts and each one's rows and cols.
func (e *experts) Shape() (n, rows, cols int) { return e.n, e.rows, e.cols }

// Free releases the experts' device memory.
func (e *experts) Free() {
	if e.freed {
		return
	}
	for _, h := range []C.mb_array{e.w, e.scales, e.biases} {
		C.mb_free(h)
	}
	*e = experts{b: e.b, freed: true}
}

// LoadExperts copies a stack of expert matrices to the device.
func (b *Backend) LoadExperts(t tensor.ExpertTensors) (tensor.Experts, error) {
	n, rows, cols, err := tensor.CheckExperts(t)
	if err != nil {
		return nil, fmt.Errorf("mlx: %w", err)
	}
	e := &experts{b: b, n: n, rows: rows, cols: cols, group: t.GroupSize, bits: t.Bits}
	switch t.Mode {
	case tensor.ExpertsDense:
		e.mode = C.MB_EXPERTS_DENSE
		e.w, err = b.upload(t.W, false, n, rows, cols)
	case tensor.ExpertsAffine:
		if !mlxGroupSize(t.GroupSize) {
			return nil, fmt.Errorf("mlx: %s: group size %d: MLX's quantized kernels take 32, 64 or 128", t.W.Name, t.GroupSize)
		}
		e.mode = C.MB_EXPERTS_AFFINE
		groups := cols / t.GroupSize
		if e.w, err = b.upload(t.W, true, n, rows, t.W.Shape[2]); err == nil {
			if e.scales, err = b.upload(t.Scales, false, n, rows, groups); err == nil {
				e.biases, err = b.upload(t.Biases, false, n, rows, groups)
			}
		}
	case tensor.ExpertsMXFP4:
		e.mode = C.MB_EXPERTS_MXFP4
		if e.w, err = b.upload(t.W, true, n, rows, cols/8); err == nil {
			e.scales, err = b.upload(t.Scales, true, n, rows, cols/32)
		}
	}
	if err != nil {
		e.Free()
		return nil, err
	}
	return e, nil
}

// LoadMXFP4 copies an mxfp4 matrix to the device: the words and the
// uint8 scales as they are, no biases (which selects mxfp4 in
// mb_quantized_matmul and mb_dequantize).
func (b *Backend) LoadMXFP4(wt, scales modelfile.Tensor) (tensor.Weight, error) {
	rows, cols, err := tensor.CheckMXFP4(wt, scales)
	if err != nil {
		return nil, fmt.Errorf("mlx: %w", err)
	}
	w := &weight{b: b, rows: rows, cols: cols, group: 32, bits: 4}
	if w.w, err = b.upload(wt, true, rows, cols/8); err == nil {
		w.scales, err = b.upload(scales, true, rows, cols/32)
	}
	if err != nil {
		w.Free()
		return nil, err
	}
	return w, nil
}

func (b *Backend) expertsArg(x tensor.Experts) (*experts, bool) {
	e, ok := x.(*experts)
	if !ok || e.b != b || e.freed {
		b.fail(0, 0, "MoE: use of freed or foreign Experts")
		return nil, false
	}
	return e, true
}

// expertBias checks an optional [experts, rows] bias and returns its
// device array (unset when nil).
func (b *Backend) expertBias(wt tensor.Weight) (C.mb_array, bool) {
	if wt == nil {
		return C.mb_array{}, true
	}
	w, ok := b.weightArg(wt, "MoE")
	if !ok {
		return C.mb_array{}, false
	}
	if w.quantized() {
		b.fail(0, 0, "MoE: quantized expert bias")
		return C.mb_array{}, false
	}
	return w.w, true
}

// MoE is tensor.MoE through mb_moe.
func (b *Backend) MoE(xa, la tensor.Array, m tensor.MoE) tensor.Array {
	x, ok := b.arg(xa, "MoE")
	if !ok {
		return placeholder(xa, -1)
	}
	logits, ok := b.arg(la, "MoE")
	if !ok {
		return placeholder(xa, -1)
	}
	if m.Gate == nil || m.Up == nil || m.Down == nil {
		return b.fail(x.rows, x.cols, "MoE: missing expert weights")
	}
	var specs [3]C.struct_mb_experts
	for i, p := range []struct {
		e    tensor.Experts
		bias tensor.Weight
	}{{m.Gate, m.GateBias}, {m.Up, m.UpBias}, {m.Down, m.DownBias}} {
		e, ok := b.expertsArg(p.e)
		if !ok {
			return placeholder(xa, -1)
		}
		bias, ok := b.expertBias(p.bias)
		if !ok {
			return placeholder(xa, -1)
		}
		specs[i] = C.struct_mb_experts{w: e.w, scales: e.scales, biases: e.biases, bias: bias,
			mode: e.mode, group: C.int(e.group), bits: C.int(e.bits)}
	}
	if err := tensor.CheckMoE(x.rows, x.cols, logits.rows, logits.cols, m); err != nil {
		return b.fail(x.rows, x.cols, "%v", err)
	}
	act := C.int(0)
	if m.Act == tensor.ClampedSwiGLU {
		act = 1
	}
	out := C.mb_array_new()
	if C.mb_moe(&out, x.h, logits.h, &specs[0], &specs[1], &specs[2], C.int(m.TopK), C.bool(m.Normalize),
		act, C.float(m.Alpha), C.float(m.Limit), b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(x.rows, x.cols, "MoE")
	}
	return b.result(out, x.rows, x.cols)
}
