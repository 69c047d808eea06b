package modelfile

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// checkQuantParams validates bits, groupSize and a row length for them.
func checkQuantParams(cols, bits, groupSize int) error {
	if bits != 4 && bits != 8 {
		return fmt.Errorf("bits %d: want 4 or 8", bits)
	}
	if groupSize != 32 && groupSize != 64 && groupSize != 128 {
		return fmt.Errorf("group size %d: want 32, 64 or 128", groupSize)
	}
	if cols <= 0 || cols%groupSize != 0 {
		return fmt.Errorf("row of %d values is not a positive multiple of the group size %d", cols, groupSize)
	}
	return nil
}

// QuantizeRow quantizes one row of a matrix exactly as MLX's affine
// quantization does (mlx.core.quantize, mode "affine", in float32): for
// each group of groupSize values, with max and min the group's extremes,
// the scale is (max-min)/(2^bits-1) (at least 1e-7), signed and nudged so
// that the extreme of larger magnitude (the bias) is a grid point and 0 is
// exactly representable; then q = round((w-bias)/scale) clamped to
// [0, 2^bits-1] (round half to even), packed into little-endian uint32
// words, the first value in the lowest bits. packed needs
// len(row)*bits/32 words, scales and biases len(row)/groupSize values;
// the caller stores scales and biases in the model's float type.
//
// A value w of the group dequantizes to scale*q+bias within |scale|/2,
// except that values at the far end from the bias may be clamped to the
// grid's last point, missing by up to |scale| (MLX's price for making 0
// and the bias exact). Storing scale and bias as float16 or bfloat16 then
// adds q·|Δscale| + |Δbias|: at 8 bits with bfloat16, up to about one
// more step at the far end.
func QuantizeRow(row []float32, bits, groupSize int, packed []uint32, scales, biases []float32) error {
	if err := checkQuantParams(len(row), bits, groupSize); err != nil {
		return err
	}
	groups := len(row) / groupSize
	if len(packed) != len(row)*bits/32 || len(scales) != groups || len(biases) != groups {
		return fmt.Errorf("quantize a row of %d: have %d words, %d scales, %d biases", len(row), len(packed), len(scales), len(biases))
	}
	clear(packed)
	perWord := 32 / bits
	for g := range groups {
		group := row[g*groupSize : (g+1)*groupSize]
		scale, bias := affineParams(group, bits)
		for j, w := range group {
			q := quantizeValue(w, scale, bias, bits)
			k := g*groupSize + j
			packed[k/perWord] |= q << (uint(k%perWord) * uint(bits))
		}
		scales[g], biases[g] = scale, bias
	}
	return nil
}

// affineParams is MLX's choice of a group's scale and bias.
func affineParams(group []float32, bits int) (scale, bias float32) {
	wMin, wMax := slices.Min(group), slices.Max(group)
	nBins := float32(int(1)<<bits - 1)
	scale = max((wMax-wMin)/nBins, float32(1e-7))
	edge := wMin
	if !(abs32(wMin) > abs32(wMax)) {
		scale, edge = -scale, wMax
	}
	if q0 := rint(edge / scale); q0 != 0 {
		scale, bias = edge/q0, edge
	}
	return scale, bias
}

// quantizeValue is round((w-bias)/scale) clamped to the grid.
func quantizeValue(w, scale, bias float32, bits int) uint32 {
	q := rint((w - bias) / scale)
	if !(q > 0) { // also NaN
		return 0
	}
	return uint32(min(q, float32(int(1)<<bits-1)))
}

func rint(x float32) float32  { return float32(math.RoundToEven(float64(x))) }
func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

// Quantize quantizes a rows×cols row-major float32 matrix with QuantizeRow
// into the three tensors MLX stores, named "<name>.weight" (U32
// [rows, cols*bits/32]), "<name>.scales" and "<name>.biases" (dtype
// [rows, cols/groupSize]; dtype is F16, BF16 or F32).
func Quantize(name string, w []float32, rows, cols, bits, groupSize int, dtype DType) (weight, scales, biases Tensor, err error) {
	if err := checkQuantParams(cols, bits, groupSize); err != nil {
		return weight, scales, biases, err
	}
	if rows <= 0 || len(w) != rows*cols || !isFloat(dtype) {
		return weight, scales, biases, fmt.Errorf("quantize %s: %d values for [%d %d] as %s", name, len(w), rows, cols, dtype)
	}
	words, groups := cols*bits/32, cols/groupSize
	packed, s, b := make([]uint32, words), make([]float32, groups), make([]float32, groups)
	weight = Tensor{Name: name + ".weight", DType: U32, Shape: []int{rows, words}}
	scales = Tensor{Name: name + ".scales", DType: dtype, Shape: []int{rows, groups}}
	biases = Tensor{Name: name + ".biases", DType: dtype, Shape: []int{rows, groups}}
	for r := range rows {
		if err := QuantizeRow(w[r*cols:(r+1)*cols], bits, groupSize, packed, s, b); err != nil {
			return weight, scales, biases, err
		}
		for _, word := range packed {
			weight.Data = binary.LittleEndian.AppendUint32(weight.Data, word)
		}
		for g := range groups {
			scales.Data = AppendFloat(scales.Data, dtype, s[g])
			biases.Data = AppendFloat(biases.Data, dtype, b[g])
		}
	}
	return weight, scales, biases, nil
}

// Dequantize expands an MLX affine-quantized matrix — weight U32
// [rows, cols*bits/32], scales and biases F16/BF16/F32 [rows,
// cols/groupSize] — into rows*cols float32 values, row-major: each value
// is scale*q + bias of its group, computed in float32. It is the
// reference the engine's quantized kernels are tested against.
func Dequantize(weight, scales, biases Tensor, bits, groupSize int) ([]float32, error) {
	if len(weight.Shape) != 2 || weight.DType != U32 || weight.NumElements()*4 != len(weight.Data) {
		return nil, fmt.Errorf("dequantize %s: weight is %s %v with %d bytes, want U32 [rows, words]", weight.Name, weight.DType, weight.Shape, len(weight.Data))
	}
	rows, cols := weight.Shape[0], weight.Shape[1]*32/max(bits, 1)
	if err := checkQuantParams(cols, bits, groupSize); err != nil {
		return nil, fmt.Errorf("dequantize %s: %w", weight.Name, err)
	}
	groups := cols / groupSize
	for _, t := range []Tensor{scales, biases} {
		if !isFloat(t.DType) || !slices.Equal(t.Shape, []int{rows, groups}) || len(t.Data) != rows*groups*t.DType.Size() {
			return nil, fmt.Errorf("dequantize %s: %s is %s %v with %d bytes, want a float [%d %d]", weight.Name, t.Name, t.DType, t.Shape, len(t.Data), rows, groups)
		}
	}
	out := make([]float32, rows*cols)
	perWord, mask := 32/bits, uint32(1)<<bits-1
	for i := range out {
		word := binary.LittleEndian.Uint32(weight.Data[4*(i/perWord):])
		q := word >> (uint(i%perWord) * uint(bits)) & mask
		g := i / groupSize // groups never straddle rows: cols is a multiple of groupSize
		// The conversion rounds the product, so no platform fuses a multiply-add.
		out[i] = float32(floatAt(scales.Data, scales.DType, g)*float32(q)) + floatAt(biases.Data, biases.DType, g)
	}
	return out, nil
}
