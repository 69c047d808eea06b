package cpu

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// littleEndian reports whether the host stores words little-endian, in
// which case stored tensors are used in place.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// u16s views b as little-endian uint16s: in place when aligned on a
// little-endian host, else as a decoded copy.
func u16s(b []byte) []uint16 {
	n := len(b) / 2
	if n == 0 {
		return nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%2 == 0 {
		return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return out
}

// u32s views b as little-endian uint32s, like u16s.
func u32s(b []byte) []uint32 {
	n := len(b) / 4
	if n == 0 {
		return nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

// f32s views b as little-endian float32s, like u16s.
func f32s(b []byte) []float32 {
	w := u32s(b)
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&w[0])), len(w))
}

// bf16 converts a bfloat16 to float32 (exact).
func bf16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// f16 converts an IEEE half to float32 (exact). Finite halves are moved
// into float32's exponent field and rescaled by 2^112, which handles
// normal and subnormal halves alike; infinities and NaNs keep their bits.
func f16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	em := uint32(h & 0x7fff)
	if em >= 0x7c00 {
		return math.Float32frombits(sign | 0x7f800000 | (em&0x3ff)<<13)
	}
	return math.Float32frombits(sign|em<<13) * 0x1p112
}

// vec is a vector of stored values (F32, F16 or BF16) read as float32:
// the scales and biases of quantized weights, norm weights and biases.
type vec struct {
	dt modelfile.DType
	h  []uint16
	f  []float32
}

func newVec(t modelfile.Tensor) vec {
	if t.DType == modelfile.F32 {
		return vec{dt: t.DType, f: f32s(t.Data)}
	}
	return vec{dt: t.DType, h: u16s(t.Data)}
}

func (v vec) len() int {
	if v.dt == modelfile.F32 {
		return len(v.f)
	}
	return len(v.h)
}

// at is element i as float32.
func (v vec) at(i int) float32 {
	switch v.dt {
	case modelfile.F16:
		return f16(v.h[i])
	case modelfile.BF16:
		return bf16(v.h[i])
	}
	return v.f[i]
}

// into converts elements lo..lo+len(dst)-1 into dst.
func (v vec) into(dst []float32, lo int) {
	switch v.dt {
	case modelfile.F16:
		for i, h := range v.h[lo : lo+len(dst)] {
			dst[i] = f16(h)
		}
	case modelfile.BF16:
		for i, h := range v.h[lo : lo+len(dst)] {
			dst[i] = bf16(h)
		}
	default:
		copy(dst, v.f[lo:lo+len(dst)])
	}
}

// convert returns elements lo..lo+len(dst)-1 as float32: F32 values in
// place, F16 and BF16 converted into dst (with SIMD when simd is set).
func (v vec) convert(dst []float32, lo int, simd bool) []float32 {
	if v.dt != modelfile.F16 && v.dt != modelfile.BF16 {
		return v.f[lo : lo+len(dst) : lo+len(dst)]
	}
	done := 0
	if simd {
		done = cvtHalfSIMD(dst, v.h[lo:lo+len(dst)], v.dt == modelfile.BF16)
	}
	v.into(dst[done:], lo+done)
	return dst
}

// toBF16 rounds x to the nearest bfloat16 (ties to even); NaNs stay NaN.
func toBF16(x float32) uint16 {
	b := math.Float32bits(x)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// toF16 rounds x to the nearest IEEE half (ties to even), overflowing to
// infinity; NaNs stay NaN. Normal halves take x's top 10 mantissa bits,
// rounded, with the exponent rebiased (a carry out of the mantissa
// correctly bumps the exponent); below 2⁻¹⁴ the half is subnormal,
// x·2²⁴ rounded to an integer, which float32 addition of 2²³ does.
func toF16(x float32) uint16 {
	b := math.Float32bits(x)
	sign := uint16(b>>16) & 0x8000
	b &= 0x7fffffff
	switch {
	case b > 0x7f800000:
		return sign | 0x7e00
	case b >= 0x477ff000: // ≥ 65520, the midpoint between 65504 and 2¹⁶
		return sign | 0x7c00
	case b < 0x38800000: // < 2⁻¹⁴
		v := math.Float32frombits(b)*0x1p24 + 0x1p23
		return sign | uint16(math.Float32bits(v)-0x4b000000)
	}
	b -= 112 << 23
	b += 0xfff + (b>>13)&1
	return sign | uint16(b>>13)
}

// encodeF16 and encodeBF16 round src into dst (len(dst) ≥ len(src)).
func encodeF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = toF16(x)
	}
}

func encodeBF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = toBF16(x)
	}
}

// halfTable holds every F16 value as float32: a load from it is cheaper
// than f16's arithmetic in the attention loops, which convert every
// cached key and value they read (256 KiB, shared by the process).
var halfTable = func() *[1 << 16]float32 {
	t := new([1 << 16]float32)
	for h := range t {
		t[h] = f16(uint16(h))
	}
	return t
}()
