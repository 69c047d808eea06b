package modelfile_test

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

var quantParams = []struct{ bits, group int }{{4, 32}, {4, 64}, {4, 128}, {8, 32}, {8, 64}, {8, 128}}

// A worked example of MLX's algorithm: min -1, max 0.5, 4 bits. The scale
// is 1.5/15 = 0.1; -1 has the larger magnitude, so it is the bias and
// q = 10 is exactly 0.
func TestQuantizeRow_MLXExample(t *testing.T) {
	row := make([]float32, 32)
	row[0], row[1], row[2] = -1, 0.5, 0.05
	packed, scales, biases := make([]uint32, 4), make([]float32, 1), make([]float32, 1)
	if err := modelfile.QuantizeRow(row, 4, 32, packed, scales, biases); err != nil {
		t.Fatal(err)
	}
	if scales[0] != float32(0.1) || biases[0] != -1 {
		t.Errorf("scale, bias = %v, %v; want 0.1, -1", scales[0], biases[0])
	}
	// q: -1 → 0, 0.5 → 15, 0.05 → round(10.5) = 10 (to even), zeros → 10.
	want := []uint32{0xaaaaa_af0, 0xaaaaaaaa, 0xaaaaaaaa, 0xaaaaaaaa}
	if diff := cmp.Diff(want, packed); diff != "" {
		t.Errorf("packed (-want +got):\n%s", diff)
	}
	// Larger max: the scale turns negative and the bias is the max.
	row[0], row[1] = -0.5, 1
	if err := modelfile.QuantizeRow(row, 4, 32, packed, scales, biases); err != nil {
		t.Fatal(err)
	}
	if scales[0] != float32(-0.1) || biases[0] != 1 || packed[0]&0xff != 0x0f {
		t.Errorf("scale, bias, first q = %v, %v, %#x; want -0.1, 1, 0x0f", scales[0], biases[0], packed[0]&0xff)
	}
}

// The first value goes in the lowest bits of the first word.
func TestQuantizeRow_Packing(t *testing.T) {
	for _, bits := range []int{4, 8} {
		levels := 1<<bits - 1
		row := make([]float32, 64)
		for i := range row {
			row[i] = float32(i * 37 % (levels + 1)) // on the grid 0..levels
		}
		row[0], row[1] = 0, float32(levels) // so the scale is ±1
		packed := make([]uint32, 64*bits/32)
		scales, biases := make([]float32, 1), make([]float32, 1)
		if err := modelfile.QuantizeRow(row, bits, 64, packed, scales, biases); err != nil {
			t.Fatal(err)
		}
		per := 32 / bits
		for i, v := range row {
			q := packed[i/per] >> (uint(i%per) * uint(bits)) & uint32(levels)
			if got := scales[0]*float32(q) + biases[0]; got != v {
				t.Fatalf("%d bits: element %d = %v, want %v (q %d, scale %v, bias %v)", bits, i, got, v, q, scales[0], biases[0])
			}
		}
	}
}

// Quantize then Dequantize: within |scale|/2 of every value between the
// bias and the grid's far end, within |scale| of a clamped one; float32
// scales so that storage rounding does not blur the bound.
func TestQuantize_ErrorBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func() float32{
		"normal":   func() float32 { return float32(rng.NormFloat64()) },
		"uniform":  func() float32 { return float32(rng.Float64()*2 - 1) },
		"positive": func() float32 { return float32(rng.Float64() + 3) },
		"tiny":     func() float32 { return float32(rng.NormFloat64() * 1e-6) },
		"skewed":   func() float32 { return float32(math.Exp(rng.NormFloat64() * 2)) },
	}
	for _, name := range slices.Sorted(maps.Keys(gens)) { // one order: one data set
		gen := gens[name]
		for _, p := range quantParams {
			rows, cols := 8, 256
			w := make([]float32, rows*cols)
			for i := range w {
				w[i] = gen()
			}
			qw, qs, qb, err := modelfile.Quantize("w", w, rows, cols, p.bits, p.group, modelfile.F32)
			if err != nil {
				t.Fatal(err)
			}
			deq, err := modelfile.Dequantize(qw, qs, qb, p.bits, p.group)
			if err != nil {
				t.Fatal(err)
			}
			scales, _ := qs.Float32s()
			biases, _ := qb.Float32s()
			for i, v := range w {
				s, b := scales[i/p.group], biases[i/p.group]
				far := b + s*float32(int(1)<<p.bits-1)
				lo, hi := min(b, far), max(b, far)
				limit := math.Abs(float64(s)) / 2
				if v < lo || v > hi {
					limit = math.Abs(float64(s))
				}
				// float32 arithmetic: its rounding scales with the largest
				// magnitude involved, the bias of a skewed group included.
				limit += 1e-6 * max(math.Abs(float64(v)), math.Abs(float64(b)), math.Abs(float64(far)))
				if e := math.Abs(float64(deq[i] - v)); e > limit {
					t.Fatalf("%s %d-bit g%d: element %d: %v → %v, error %g > %g (scale %v bias %v)", name, p.bits, p.group, i, v, deq[i], e, limit, s, b)
				}
			}
		}
	}
}

// MLX's zero-exact grid clamps the far end by up to one step: the
// symmetric group [-7.5, 7.5] at 4 bits gets scale -0.9375 and bias 7.5,
// so -7.5 comes back as -6.5625.
func TestQuantizeRow_FarEndClamped(t *testing.T) {
	row := make([]float32, 32)
	row[0], row[1] = -7.5, 7.5
	packed, s, b := make([]uint32, 4), make([]float32, 1), make([]float32, 1)
	if err := modelfile.QuantizeRow(row, 4, 32, packed, s, b); err != nil {
		t.Fatal(err)
	}
	if s[0] != -0.9375 || b[0] != 7.5 || packed[0]&0xf != 15 {
		t.Errorf("scale %v bias %v q %d; want -0.9375, 7.5, 15", s[0], b[0], packed[0]&0xf)
	}
}

// Values already on a grid whose scale is a power of two and whose bias
// is the group's larger-magnitude extreme come back exactly, in every
// storage type, for both signs of the scale.
func TestQuantize_GridExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range quantParams {
		for _, dt := range []modelfile.DType{modelfile.F32, modelfile.F16, modelfile.BF16} {
			for _, negative := range []bool{false, true} {
				levels := 1<<p.bits - 1
				step, k := float32(1.0/64), levels/2+1 // bias ±k steps from 0, |bias| > |far end|
				rows, cols := 4, 2*p.group
				w := make([]float32, rows*cols)
				for i := range w {
					q := rng.IntN(levels + 1)
					switch i % p.group {
					case 0:
						q = 0
					case 1:
						q = levels
					}
					w[i] = float32(q-k) * step // bias -k·step, scale +step
					if negative {
						w[i] = -w[i] // bias +k·step, scale -step
					}
				}
				qw, qs, qb, err := modelfile.Quantize("w", w, rows, cols, p.bits, p.group, dt)
				if err != nil {
					t.Fatal(err)
				}
				deq, err := modelfile.Dequantize(qw, qs, qb, p.bits, p.group)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(w, deq); diff != "" {
					t.Fatalf("%d-bit g%d %s negative=%v: (-want +got):\n%s", p.bits, p.group, dt, negative, diff)
				}
			}
		}
	}
}

func TestDequantize_BadInput(t *testing.T) {
	w, s, b, err := modelfile.Quantize("w", make([]float32, 2*64), 2, 64, 4, 32, modelfile.BF16)
	if err != nil {
		t.Fatal(err)
	}
	short := w
	short.Data = short.Data[:4]
	f32 := s
	f32.DType = modelfile.U32
	tests := []struct {
		name       string
		w, s, b    modelfile.Tensor
		bits, size int
	}{
		{"short data", short, s, b, 4, 32},
		{"bits", w, s, b, 3, 32},
		{"group", w, s, b, 4, 64},
		{"scales dtype", w, f32, b, 4, 32},
		{"biases shape", w, s, modelfile.Tensor{Name: "b", DType: modelfile.BF16, Shape: []int{2}, Data: make([]byte, 4)}, 4, 32},
		{"weight not 2-D", modelfile.Tensor{Name: "w", DType: modelfile.U32, Shape: []int{16}, Data: make([]byte, 64)}, s, b, 4, 32},
	}
	for _, tt := range tests {
		if _, err := modelfile.Dequantize(tt.w, tt.s, tt.b, tt.bits, tt.size); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := modelfile.Dequantize(w, s, b, 4, 32); err != nil {
		t.Errorf("good input: %v", err)
	}
	if err := modelfile.QuantizeRow(make([]float32, 48), 4, 32, make([]uint32, 6), make([]float32, 1), make([]float32, 1)); err == nil {
		t.Error("row not a multiple of the group: no error")
	}
}
