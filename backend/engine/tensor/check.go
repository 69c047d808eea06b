package tensor

import (
	"fmt"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// The Check functions hold the validation rules of the Loader and Ops
// contracts once, so that every backend refuses the same inputs with the
// same messages. Backends prefix the error with their name.

// CheckDense validates a tensor for Loader.LoadDense and returns its
// matrix shape (a 1-D tensor of n values is 1×n).
func CheckDense(t modelfile.Tensor) (rows, cols int, err error) {
	if rows, cols, err = matrixShape(t); err != nil {
		return 0, 0, err
	}
	if !floatDType(t.DType) {
		return 0, 0, fmt.Errorf("%s: dtype %s, want F32, F16 or BF16", t.Name, t.DType)
	}
	return rows, cols, checkSize(t, rows*cols)
}

// CheckQuantized validates the tensors of Loader.LoadQuantized and returns
// the dequantized shape.
func CheckQuantized(w, scales, biases modelfile.Tensor, groupSize, bits int) (rows, cols int, err error) {
	if bits != 4 && bits != 8 {
		return 0, 0, fmt.Errorf("%s: %d-bit quantization is not supported (4 or 8)", w.Name, bits)
	}
	if groupSize <= 0 || groupSize%(32/bits) != 0 {
		return 0, 0, fmt.Errorf("%s: group size %d does not fill whole words of %d-bit values", w.Name, groupSize, bits)
	}
	if w.DType != modelfile.U32 || len(w.Shape) != 2 {
		return 0, 0, fmt.Errorf("%s: quantized weight is %s %v, want 2-D U32", w.Name, w.DType, w.Shape)
	}
	rows, words := w.Shape[0], w.Shape[1]
	cols = words * 32 / bits
	if cols%groupSize != 0 {
		return 0, 0, fmt.Errorf("%s: %d columns are not whole groups of %d", w.Name, cols, groupSize)
	}
	if err := checkSize(w, rows*words); err != nil {
		return 0, 0, err
	}
	for _, t := range []modelfile.Tensor{scales, biases} {
		if err := checkGroups(t, rows, cols/groupSize); err != nil {
			return 0, 0, err
		}
	}
	return rows, cols, nil
}

// CheckRope validates the arguments of Loader.NewRope.
func CheckRope(dims int, invFreq []float64) error {
	if dims <= 0 || dims%2 != 0 || len(invFreq) != dims/2 {
		return fmt.Errorf("rope of %d dims with %d frequencies", dims, len(invFreq))
	}
	return nil
}

// CheckKVCache validates the arguments of Loader.NewKVCache.
func CheckKVCache(kvHeads, headDim, maxLen int, dtype modelfile.DType) error {
	if kvHeads <= 0 || headDim <= 0 || maxLen <= 0 {
		return fmt.Errorf("KV cache of %d heads × %d values × %d positions", kvHeads, headDim, maxLen)
	}
	if !floatDType(dtype) {
		return fmt.Errorf("KV cache of dtype %q, want F16, BF16 or F32", dtype)
	}
	return nil
}

// CheckAttention validates the shapes of Ops.Attention: q is qRows×qCols,
// k and v are kRows×kCols and vRows×vCols, the cache holds kvHeads heads of
// headDim values at maxLen positions, window is AttentionOpts.Window. It
// returns the number of query heads.
func CheckAttention(qRows, qCols, kRows, kCols, vRows, vCols, kvHeads, headDim, maxLen, offset, window int) (heads int, err error) {
	width := kvHeads * headDim
	switch {
	case kRows != qRows || vRows != qRows || kCols != width || vCols != width:
		return 0, fmt.Errorf("k %d×%d and v %d×%d for %d queries of a cache of %d heads × %d",
			kRows, kCols, vRows, vCols, qRows, kvHeads, headDim)
	case qCols%headDim != 0 || (qCols/headDim)%kvHeads != 0:
		return 0, fmt.Errorf("q of %d columns is not a multiple of %d heads × %d", qCols, kvHeads, headDim)
	case offset < 0 || offset+qRows > maxLen:
		return 0, fmt.Errorf("positions %d..%d outside a cache of %d", offset, offset+qRows-1, maxLen)
	case window < 0:
		return 0, fmt.Errorf("attention window %d", window)
	}
	return qCols / headDim, nil
}

func floatDType(d modelfile.DType) bool {
	return d == modelfile.F32 || d == modelfile.F16 || d == modelfile.BF16
}

func checkGroups(t modelfile.Tensor, rows, groups int) error {
	if len(t.Shape) != 2 || t.Shape[0] != rows || t.Shape[1] != groups {
		return fmt.Errorf("%s: shape %v, want [%d %d]", t.Name, t.Shape, rows, groups)
	}
	if !floatDType(t.DType) {
		return fmt.Errorf("%s: dtype %s, want F32, F16 or BF16", t.Name, t.DType)
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
	return 0, 0, fmt.Errorf("%s: shape %v, want one or two positive dimensions", t.Name, t.Shape)
}

func checkSize(t modelfile.Tensor, n int) error {
	if want := n * t.DType.Size(); len(t.Data) != want {
		return fmt.Errorf("%s: %d bytes of data, want %d", t.Name, len(t.Data), want)
	}
	return nil
}
