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
	freed          bool
}

// Shape reports rows and cols (the dequantized shape).
func (w *weight) Shape() (rows, cols int) { return w.rows, w.cols }

// Free drops the weight's references to its stored bytes.
func (w *weight) Free() { *w = weight{b: w.b, freed: true} }

func (w *weight) quantized() bool { return w.bits != 0 }

// LoadDense loads an F32, F16 or BF16 vector or matrix in place.
func (b *Backend) LoadDense(t modelfile.Tensor) (tensor.Weight, error) {
	rows, cols, err := matrixShape(t)
	if err != nil {
		return nil, err
	}
	if t.DType != modelfile.F32 && t.DType != modelfile.F16 && t.DType != modelfile.BF16 {
		return nil, fmt.Errorf("cpu: %s: dtype %s, want F32, F16 or BF16", t.Name, t.DType)
	}
	if err := checkSize(t, rows*cols); err != nil {
		return nil, err
	}
	return &weight{b: b, rows: rows, cols: cols, vals: newVec(t)}, nil
}

// LoadQuantized loads an MLX affine-quantized matrix of 4- or 8-bit values.
func (b *Backend) LoadQuantized(wt, scales, biases modelfile.Tensor, groupSize, bits int) (tensor.Weight, error) {
	if bits != 4 && bits != 8 {
		return nil, fmt.Errorf("cpu: %s: %d-bit quantization is not supported (4 or 8)", wt.Name, bits)
	}
	if groupSize <= 0 || groupSize%(32/bits) != 0 {
		return nil, fmt.Errorf("cpu: %s: group size %d does not fill whole words of %d-bit values", wt.Name, groupSize, bits)
	}
	if wt.DType != modelfile.U32 || len(wt.Shape) != 2 {
		return nil, fmt.Errorf("cpu: %s: quantized weight is %s %v, want 2-D U32", wt.Name, wt.DType, wt.Shape)
	}
	rows, words := wt.Shape[0], wt.Shape[1]
	cols := words * 32 / bits
	if cols%groupSize != 0 {
		return nil, fmt.Errorf("cpu: %s: %d columns are not whole groups of %d", wt.Name, cols, groupSize)
	}
	if err := checkSize(wt, rows*words); err != nil {
		return nil, err
	}
	w := &weight{b: b, rows: rows, cols: cols, q: u32s(wt.Data), bits: bits, group: groupSize,
		words: words, groups: cols / groupSize}
	for _, s := range []struct {
		t   modelfile.Tensor
		dst *vec
	}{{scales, &w.scales}, {biases, &w.biases}} {
		if err := checkGroups(s.t, rows, w.groups); err != nil {
			return nil, err
		}
		*s.dst = newVec(s.t)
	}
	return w, nil
}

func checkGroups(t modelfile.Tensor, rows, groups int) error {
	if len(t.Shape) != 2 || t.Shape[0] != rows || t.Shape[1] != groups {
		return fmt.Errorf("cpu: %s: shape %v, want [%d %d]", t.Name, t.Shape, rows, groups)
	}
	if t.DType != modelfile.F32 && t.DType != modelfile.F16 && t.DType != modelfile.BF16 {
		return fmt.Errorf("cpu: %s: dtype %s, want F32, F16 or BF16", t.Name, t.DType)
	}
	return checkSize(t, rows*groups)
}

// matrixShape reads a 1-D (1×n) or 2-D shape.
func matrixShape(t modelfile.Tensor) (rows, cols int, err error) {
	switch {
	case len(t.Shape) == 1 && t.Shape[0] > 0:
		return 1, t.Shape[0], nil
	case len(t.Shape) == 2 && t.Shape[0] > 0 && t.Shape[1] > 0:
		return t.Shape[0], t.Shape[1], nil
	}
	return 0, 0, fmt.Errorf("cpu: %s: shape %v, want one or two positive dimensions", t.Name, t.Shape)
}

func checkSize(t modelfile.Tensor, n int) error {
	if want := n * t.DType.Size(); len(t.Data) != want {
		return fmt.Errorf("cpu: %s: %d bytes of data, want %d", t.Name, len(t.Data), want)
	}
	return nil
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
