package modelfile_test

import (
	"math"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

func TestFloat16_KnownValues(t *testing.T) {
	tests := []struct {
		f    float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.1, 0x2e66},
		{65504, 0x7bff},                       // largest finite
		{65520, 0x7c00},                       // rounds up to infinity
		{float32(math.Ldexp(1, -14)), 0x0400}, // smallest normal
		{float32(math.Ldexp(1, -24)), 0x0001}, // smallest subnormal
		{float32(math.Ldexp(1, -25)), 0x0000}, // halfway to it: ties to even
		{float32(math.Ldexp(3, -26)), 0x0001}, // 0.75 of it
		{float32(math.Ldexp(3, -25)), 0x0002}, // 1.5 of it: ties to even
		{1 + float32(math.Ldexp(1, -11)), 0x3c00},
		{1 + float32(math.Ldexp(3, -11)), 0x3c02},
		{float32(math.Inf(1)), 0x7c00},
		{float32(math.Inf(-1)), 0xfc00},
		{1e-10, 0},
	}
	for _, tt := range tests {
		if got := modelfile.Float32ToFloat16(tt.f); got != tt.want {
			t.Errorf("Float32ToFloat16(%g) = %#04x, want %#04x", tt.f, got, tt.want)
		}
	}
	if h := modelfile.Float32ToFloat16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN became %#04x", h)
	}
}

// Every half value decodes exactly and encodes back to itself, and every
// midpoint between neighbours rounds to the even one.
func TestFloat16_Exhaustive(t *testing.T) {
	for h := range uint32(0x7c00) {
		for _, sign := range []uint16{0, 0x8000} {
			v := uint16(h) | sign
			f := modelfile.Float16ToFloat32(v)
			if got := modelfile.Float32ToFloat16(f); got != v {
				t.Fatalf("%#04x → %g → %#04x", v, f, got)
			}
			next := modelfile.Float16ToFloat32(v + 1)
			if sign != 0 || h+1 >= 0x7c00 {
				continue
			}
			mid := float32((float64(f) + float64(next)) / 2)
			want := v
			if v&1 == 1 {
				want = v + 1
			}
			if got := modelfile.Float32ToFloat16(mid); got != want {
				t.Fatalf("midpoint of %#04x and %#04x (%g) → %#04x, want %#04x", v, v+1, mid, got, want)
			}
		}
	}
}

func TestBFloat16_RoundTrip(t *testing.T) {
	for h := range uint32(0x10000) {
		v := uint16(h)
		f := modelfile.BFloat16ToFloat32(v)
		if math.IsNaN(float64(f)) {
			if got := modelfile.Float32ToBFloat16(f); !math.IsNaN(float64(modelfile.BFloat16ToFloat32(got))) {
				t.Fatalf("NaN %#04x → %#04x", v, got)
			}
			continue
		}
		if got := modelfile.Float32ToBFloat16(f); got != v {
			t.Fatalf("%#04x → %g → %#04x", v, f, got)
		}
	}
	tests := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3f80},
		{math.Float32frombits(0x3f808000), 0x3f80}, // halfway, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // halfway, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81},
		{math.MaxFloat32, 0x7f80}, // rounds to infinity
	}
	for _, tt := range tests {
		if got := modelfile.Float32ToBFloat16(tt.f); got != tt.want {
			t.Errorf("Float32ToBFloat16(%g) = %#04x, want %#04x", tt.f, got, tt.want)
		}
	}
}

func TestTensor_Float32s(t *testing.T) {
	values := []float32{1, -0.5, 3.25, 1024}
	for _, dt := range []modelfile.DType{modelfile.F32, modelfile.F16, modelfile.BF16} {
		var data []byte
		for _, v := range values {
			data = modelfile.AppendFloat(data, dt, v)
		}
		got, err := modelfile.Tensor{Name: "x", DType: dt, Shape: []int{2, 2}, Data: data}.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for i := range values {
			if got[i] != values[i] {
				t.Errorf("%s: got %v, want %v", dt, got, values)
				break
			}
		}
	}
	if _, err := (modelfile.Tensor{Name: "x", DType: modelfile.F32, Shape: []int{3}, Data: make([]byte, 8)}).Float32s(); err == nil {
		t.Error("short data: no error")
	}
	if _, err := (modelfile.Tensor{Name: "x", DType: modelfile.U32, Shape: []int{1}, Data: make([]byte, 4)}).Float32s(); err == nil {
		t.Error("U32: no error")
	}
}
