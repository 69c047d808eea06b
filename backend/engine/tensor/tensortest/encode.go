package tensortest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// Weights is an in-memory modelfile.Weights.
type Weights map[string]modelfile.Tensor

// Tensor returns the named tensor.
func (w Weights) Tensor(name string) (modelfile.Tensor, bool) {
	t, ok := w[name]
	return t, ok
}

// Random returns n values uniform in [-scale, scale).
func Random(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*rng.Float64() - 1) * scale)
	}
	return v
}

// EncodeF16 rounds x to the nearest IEEE half (ties to even), saturating
// to infinity; NaN stays NaN.
func EncodeF16(x float32) uint16 {
	f := float64(x)
	sign := uint16(0)
	if math.Signbit(f) {
		sign, f = 0x8000, -f
	}
	switch {
	case math.IsNaN(f):
		return 0x7e00
	case f == 0:
		return sign
	case math.IsInf(f, 0):
		return sign | 0x7c00
	}
	_, e := math.Frexp(f) // f = m·2^e, m in [0.5, 1)
	e = max(e-1, -14)     // exponent of the leading bit, at least the subnormal one
	m := math.RoundToEven(math.Ldexp(f, 10-e))
	bits := (e+14)<<10 + int(m) // m = 2048 carries into the exponent
	if bits >= 0x7c00 {
		return sign | 0x7c00
	}
	return sign | uint16(bits)
}

// DecodeF16 is the value of an IEEE half, computed from its fields.
func DecodeF16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, mant := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(mant, -24)
	case 31:
		if mant != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1024+mant, exp-25)
}

// EncodeBF16 rounds x to the nearest bfloat16 (ties to even).
func EncodeBF16(x float32) uint16 {
	b := math.Float32bits(x)
	if x != x {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b >> 16 & 1)) >> 16)
}

// DecodeBF16 is the value of a bfloat16: the high half of a float32.
func DecodeBF16(h uint16) float64 { return float64(math.Float32frombits(uint32(h) << 16)) }

// Round rounds each value to float32 and then to dt (F32, F16 or BF16),
// as a backend's KV cache of that dtype stores the float32 keys and values
// it computed.
func Round(dt modelfile.DType, v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		switch f := float32(x); dt {
		case modelfile.F32:
			out[i] = float64(f)
		case modelfile.F16:
			out[i] = DecodeF16(EncodeF16(f))
		case modelfile.BF16:
			out[i] = DecodeBF16(EncodeBF16(f))
		default:
			panic(fmt.Sprintf("tensortest: cannot round to %s", dt))
		}
	}
	return out
}

// Encode stores v as little-endian dt (F32, F16 or BF16).
func Encode(dt modelfile.DType, v []float32) []byte {
	out := make([]byte, len(v)*dt.Size())
	for i, x := range v {
		switch dt {
		case modelfile.F32:
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		case modelfile.F16:
			binary.LittleEndian.PutUint16(out[2*i:], EncodeF16(x))
		case modelfile.BF16:
			binary.LittleEndian.PutUint16(out[2*i:], EncodeBF16(x))
		default:
			panic(fmt.Sprintf("tensortest: cannot encode %s", dt))
		}
	}
	return out
}

// Decode reads the stored values of an F32, F16 or BF16 tensor.
func Decode(t modelfile.Tensor) []float64 {
	out := make([]float64, len(t.Data)/t.DType.Size())
	for i := range out {
		switch t.DType {
		case modelfile.F32:
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:])))
		case modelfile.F16:
			out[i] = DecodeF16(binary.LittleEndian.Uint16(t.Data[2*i:]))
		case modelfile.BF16:
			out[i] = DecodeBF16(binary.LittleEndian.Uint16(t.Data[2*i:]))
		default:
			panic(fmt.Sprintf("tensortest: cannot decode %s", t.DType))
		}
	}
	return out
}

// Dense makes a tensor of v stored as dt.
func Dense(name string, dt modelfile.DType, v []float32, shape ...int) modelfile.Tensor {
	return modelfile.Tensor{Name: name, DType: dt, Shape: shape, Data: Encode(dt, v)}
}

// Quantized is an MLX affine-quantized matrix and what it stands for.
type Quantized struct {
	W, Scales, Biases modelfile.Tensor
	GroupSize, Bits   int
	// Values are the dequantized values scale·q + bias, computed in
	// float64 from the stored (rounded) scales and biases.
	Values []float64
}

// Quantize quantizes the rows×cols matrix v the way MLX does: per row,
// groups of groupSize values get scale = (max−min)/(2^bits−1) and
// bias = min (stored as dt), q = round((v−bias)/scale) clamped to
// [0, 2^bits−1], packed little-endian into uint32 words, first value in
// the lowest bits. name is the weight's name ("x.weight"); the scales and
// biases are named after it.
func Quantize(name string, v []float32, rows, cols, groupSize, bits int, dt modelfile.DType) Quantized {
	groups, per := cols/groupSize, 32/bits
	words := make([]uint32, rows*cols/per)
	scales, biases := make([]float32, rows*groups), make([]float32, rows*groups)
	levels := float64(int(1)<<bits - 1)
	for g := range rows * groups {
		vals := v[g*groupSize : (g+1)*groupSize]
		lo, hi := minMax(vals)
		scale := (hi - lo) / levels
		scales[g], biases[g] = float32(scale), float32(lo)
		for i, x := range vals {
			q := 0.0
			if scale > 0 {
				q = min(max(math.Round((float64(x)-lo)/scale), 0), levels)
			}
			idx := g*groupSize + i
			words[idx/per] |= uint32(q) << (bits * (idx % per))
		}
	}
	base := name[:len(name)-len(".weight")]
	qz := Quantized{GroupSize: groupSize, Bits: bits,
		W:      modelfile.Tensor{Name: name, DType: modelfile.U32, Shape: []int{rows, cols / per}, Data: u32Bytes(words)},
		Scales: Dense(base+".scales", dt, scales, rows, groups),
		Biases: Dense(base+".biases", dt, biases, rows, groups),
	}
	qz.Values = Dequantize(qz)
	return qz
}

// Dequantize computes scale·q + bias for every element, in float64, by
// unpacking the stored words.
func Dequantize(qz Quantized) []float64 {
	s, b := Decode(qz.Scales), Decode(qz.Biases)
	per := 32 / qz.Bits
	mask := uint32(1)<<qz.Bits - 1
	out := make([]float64, len(qz.W.Data)/4*per)
	for i := range out {
		word := binary.LittleEndian.Uint32(qz.W.Data[4*(i/per):])
		q := word >> (qz.Bits * (i % per)) & mask
		g := i / qz.GroupSize
		out[i] = s[g]*float64(q) + b[g]
	}
	return out
}

// Add puts the quantized tensors in w.
func (qz Quantized) Add(w Weights) {
	for _, t := range []modelfile.Tensor{qz.W, qz.Scales, qz.Biases} {
		w[t.Name] = t
	}
}

func minMax(v []float32) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = min(lo, float64(x)), max(hi, float64(x))
	}
	return lo, hi
}

func u32Bytes(w []uint32) []byte {
	out := make([]byte, 4*len(w))
	for i, x := range w {
		binary.LittleEndian.PutUint32(out[4*i:], x)
	}
	return out
}

// Float32s converts float64 values to float32.
func Float32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
