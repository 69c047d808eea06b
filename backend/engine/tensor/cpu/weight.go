package cpu

import (
	"fmt"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// weight is a rows×cols parameter kept in its stored form: dense values
// (vals) or MLX affine-quantized words with per-group scales and biases.
type weight struct {
	b          *Backend
	rows, cols int
	vals       vec // dense weights

	q              []uint32 // quantized: packed values, row-major
	scales, biases vec      // quantized: rows × groups
	bits, group    int      // quantized: 0 when dense
	words, groups  int      // quantized: per row
	fp4            *mxfp4   // mxfp4-quantized (issue 16; bits and group are 4 and 32)
	freed          bool
}

// Shape reports rows and cols (the dequantized shape).
func (w *weight) Shape() (rows, cols int) { return w.rows, w.cols }

// Free drops the weight's references to its stored bytes.
func (w *weight) Free() { *w = weight{b: w.b, freed: true} }

func (w *weight) quantized() bool { return w.bits != 0 }

// LoadDense loads an F32, F16 or BF16 vector or matrix in place.
func (b *Backend) LoadDense(t modelfile.Tensor) (tensor.Weight, error) {
	rows, cols, err := tensor.CheckDense(t)
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	return &weight{b: b, rows: rows, cols: cols, vals: newVec(t)}, nil
}

// LoadQuantized loads an MLX affine-quantized matrix of 4- or 8-bit values.
func (b *Backend) LoadQuantized(wt, scales, biases modelfile.Tensor, groupSize, bits int) (tensor.Weight, error) {
	rows, cols, err := tensor.CheckQuantized(wt, scales, biases, groupSize, bits)
	if err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	words := wt.Shape[1]
	return &weight{b: b, rows: rows, cols: cols, q: u32s(wt.Data), bits: bits, group: groupSize,
		words: words, groups: cols / groupSize, scales: newVec(scales), biases: newVec(biases)}, nil
}

// weightArg converts a Weight argument, recording an error for a freed
// Weight or one from another backend.
func (b *Backend) weightArg(x tensor.Weight) (*weight, bool) {
	w, ok := x.(*weight)
	if !ok || w.b != b || w.freed {
		b.fail("use of a freed or foreign Weight")
		return nil, false
	}
	return w, true
}

// rowInto writes row r of w, dequantized or converted, into dst (len cols).
func (w *weight) rowInto(r int, dst []float32) {
	if w.fp4 != nil {
		w.fp4.rowInto(r, dst)
		return
	}
	if !w.quantized() {
		w.vals.into(dst, r*w.cols)
		return
	}
	q := w.q[r*w.words : (r+1)*w.words]
	per := w.group * w.bits / 32 // words per group
	for g := range w.groups {
		s, bias := w.scales.at(r*w.groups+g), w.biases.at(r*w.groups+g)
		d := dst[g*w.group : (g+1)*w.group]
		if w.bits == 4 {
			dequant4(q[g*per:(g+1)*per], s, bias, d)
		} else {
			dequant8(q[g*per:(g+1)*per], s, bias, d)
		}
	}
}

func dequant4(q []uint32, s, bias float32, dst []float32) {
	for i, w := range q {
		d := dst[i*8 : i*8+8 : i*8+8]
		for j := range d {
			d[j] = s*levels4[w>>(4*j)&15] + bias
		}
	}
}

func dequant8(q []uint32, s, bias float32, dst []float32) {
	for i, w := range q {
		d := dst[i*4 : i*4+4 : i*4+4]
		for j := range d {
			d[j] = s*levels8[uint8(w>>(8*j))] + bias
		}
	}
}
