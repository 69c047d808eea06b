package tensortest

import (
	"math"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// TestEncodeF16_RoundTripsEveryHalf decodes every half and encodes it
// back: the bits must survive (NaNs stay NaNs).
func TestEncodeF16_RoundTripsEveryHalf(t *testing.T) {
	for h := range 1 << 16 {
		v := DecodeF16(uint16(h))
		got := EncodeF16(float32(v))
		if math.IsNaN(v) {
			if !math.IsNaN(DecodeF16(got)) {
				t.Errorf("NaN %#04x encodes to %#04x", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Errorf("%#04x = %v encodes to %#04x", h, v, got)
		}
	}
}

func TestEncodeF16_RoundsToNearestEven(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00},           // halfway between 1 and the next half: even (1)
		{1 + 3.0/2048, 0x3c02},           // halfway, rounds up to even
		{65519, 0x7bff},                  // largest half
		{65520, 0x7c00},                  // rounds to infinity
		{-1e9, 0xfc00},                   // saturates
		{float32(math.Ldexp(1, -25)), 0}, // half the smallest subnormal: even (0)
		{float32(math.Ldexp(3, -25)), 2},
	} {
		if got := EncodeF16(c.in); got != c.want {
			t.Errorf("EncodeF16(%v) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

func TestEncodeBF16_RoundsToNearestEven(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f808000, 0x3f80}, {0x3f818000, 0x3f82}, {0x3f808001, 0x3f81}, {0x7f7fffff, 0x7f80}, {0x7fc00001, 0x7fc0},
	} {
		if got := EncodeBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("EncodeBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

// TestQuantize_MatchesMLXFormula checks a hand-worked 4-bit group.
func TestQuantize_MatchesMLXFormula(t *testing.T) {
	v := make([]float32, 32)
	for i := range v {
		v[i] = float32(i%16) * 0.5 // min 0, max 7.5: scale 0.5, q = i%16
	}
	v[31] = 7.3 // q = round(14.6) = 15 → dequantized 7.5
	qz := Quantize("x.weight", v, 1, 32, 32, 4, modelfile.F32)
	if got := qz.W.Data[:4]; got[0] != 0x10 || got[1] != 0x32 || got[2] != 0x54 || got[3] != 0x76 {
		t.Errorf("first word bytes % x, want 10 32 54 76", got)
	}
	if s, b := Decode(qz.Scales)[0], Decode(qz.Biases)[0]; s != 0.5 || b != 0 {
		t.Errorf("scale, bias = %v, %v; want 0.5, 0", s, b)
	}
	if got := qz.Values[31]; got != 7.5 {
		t.Errorf("dequantized 7.3 = %v, want 7.5", got)
	}
	eight := Quantize("y.weight", []float32{-1, 1, 0, 0.5}, 1, 4, 4, 8, modelfile.F32)
	if got := eight.W.Data; got[0] != 0 || got[1] != 255 || got[2] != 128 || got[3] != 191 {
		t.Errorf("8-bit word bytes % x, want 00 ff 80 bf", got)
	}
}
