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
