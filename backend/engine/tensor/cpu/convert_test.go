package cpu

import (
	"math"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// TestHalfEncoding_MatchesReference rounds float32s to F16 and BF16 as
// the KV cache stores them and compares with tensortest's encoders,
// written from the formats: every half value, the float32s next to it and
// halfway to its neighbours (where ties to even decide), and random
// float32s of every exponent.
func TestHalfEncoding_MatchesReference(t *testing.T) {
	var xs []float32
	for h := range 1 << 16 {
		v := float32(tensortest.DecodeF16(uint16(h)))
		next := float32(tensortest.DecodeF16(uint16(h + 1)))
		mid := float32((float64(v) + float64(next)) / 2)
		for _, x := range []float32{v, mid, bf16(uint16(h))} {
			xs = append(xs, x, math.Nextafter32(x, float32(math.Inf(1))), math.Nextafter32(x, float32(math.Inf(-1))))
		}
	}
	rng := tensortest.NewRand(1)
	for range 1 << 20 {
		xs = append(xs, math.Float32frombits(rng.Uint32()))
	}
	bad := 0
	for _, x := range xs {
		for _, c := range []struct {
			name      string
			got, want uint16
		}{{"F16", toF16(x), tensortest.EncodeF16(x)}, {"BF16", toBF16(x), tensortest.EncodeBF16(x)}} {
			same := c.got == c.want
			if x != x { // any NaN will do
				decoded := map[string]float32{"F16": f16(c.got), "BF16": bf16(c.got)}[c.name]
				same = decoded != decoded
			}
			if !same && bad < 10 {
				t.Errorf("%s(%g = %#08x) = %#04x, want %#04x", c.name, x, math.Float32bits(x), c.got, c.want)
			}
			if !same {
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d roundings differ", bad, 2*len(xs))
	}
}
