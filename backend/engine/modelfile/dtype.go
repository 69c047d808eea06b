package modelfile

import (
	"encoding/binary"
	"fmt"
	"math"
)

// NumElements is the product of the tensor's shape (1 for a scalar), or
// -1 when a dimension is negative or the product overflows an int.
func (t Tensor) NumElements() int {
	return int(numElements(t.Shape, math.MaxInt))
}

// Float32s decodes an F32, F16 or BF16 tensor into a new slice of float32
// values, row-major. It is for tests, small tensors and one-off
// conversions: a backend reading large weights should decode rows as it
// goes.
func (t Tensor) Float32s() ([]float32, error) {
	n := t.NumElements()
	size := int64(t.DType.Size())
	if n < 0 || int64(len(t.Data)) != int64(n)*size {
		return nil, fmt.Errorf("tensor %q: %d bytes for %s %v", t.Name, len(t.Data), t.DType, t.Shape)
	}
	if !isFloat(t.DType) {
		return nil, fmt.Errorf("tensor %q: %s is not a float type", t.Name, t.DType)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = floatAt(t.Data, t.DType, i)
	}
	return out, nil
}

func isFloat(d DType) bool { return d == F32 || d == F16 || d == BF16 }

// floatAt decodes element i of little-endian float data of type d.
func floatAt(data []byte, d DType, i int) float32 {
	switch d {
	case F16:
		return Float16ToFloat32(binary.LittleEndian.Uint16(data[2*i:]))
	case BF16:
		return BFloat16ToFloat32(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
}

// AppendFloat appends v encoded as one little-endian element of the float
// type d (F32, F16 or BF16, rounding to nearest even) to buf.
func AppendFloat(buf []byte, d DType, v float32) []byte {
	switch d {
	case F16:
		return binary.LittleEndian.AppendUint16(buf, Float32ToFloat16(v))
	case BF16:
		return binary.LittleEndian.AppendUint16(buf, Float32ToBFloat16(v))
	}
	return binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
}

// Float16ToFloat32 decodes an IEEE 754 half-precision value exactly.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: shift the leading 1 into the implicit bit.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// Float32ToFloat16 rounds f to the nearest half-precision value, ties to
// even; too large becomes infinity, too small zero (through subnormals),
// NaN stays NaN.
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e >= 1:
		return sign | roundShift(uint32(e)<<23|mant, 13) // a carry into the exponent is right, up to infinity
	}
	shift := 14 - e // 126 - exp: the full 24-bit mantissa to units of 2^-24
	if shift > 24 {
		return sign
	}
	return sign | roundShift(mant|0x800000, uint(shift))
}

// roundShift returns v >> shift rounded to nearest, ties to even.
func roundShift(v uint32, shift uint) uint16 {
	q, r, half := v>>shift, v&(1<<shift-1), uint32(1)<<(shift-1)
	if r > half || (r == half && q&1 == 1) {
		q++
	}
	return uint16(q)
}

// BFloat16ToFloat32 decodes a bfloat16 value exactly.
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBFloat16 rounds f to the nearest bfloat16, ties to even, as MLX
// does; NaN stays NaN.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}
