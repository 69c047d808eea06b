package tensortest

import (
	"math"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Matrix products accumulate k float32 products, so they are compared
// with a tolerance relative to Σ|x·w| of each output: 2e-6 of it (about
// 34 float32 ulps of that bound) plus 1e-6. A quantized product and the
// same product with the dequantized weights, on one backend, must agree
// to 1e-6 of Σ|x·w|.
const (
	matRel   = 2e-6
	matAbs   = 1e-6
	quantRel = 1e-6
)

// rowCounts covers one-row (decode) and many-row (prefill) products, on
// both sides of any kernel switch-over a backend may have.
var rowCounts = []int{1, 2, 3, 4, 5, 9, 17}

// matmul runs x·wᵀ on the backend.
func matmul(t *testing.T, b tensor.Backend, w tensor.Weight, x []float32, n, k int) []float32 {
	t.Helper()
	var got []float32
	run(t, b, func() (err error) {
		got, err = read(b, b.MatMul(b.FromFloat32(n, k, x), w))
		return err
	})
	return got
}

func testMatMulDense(t *testing.T, b tensor.Backend) {
	rng := NewRand(1)
	for _, dt := range []modelfile.DType{modelfile.F32, modelfile.F16, modelfile.BF16} {
		for _, shape := range [][2]int{{37, 67}, {300, 128}} {
			m, k := shape[0], shape[1]
			wt := Dense("w.weight", dt, Random(rng, m*k, 1), m, k)
			w := load(t, b, wt)
			if r, c := w.Shape(); r != m || c != k {
				t.Errorf("%s weight shape %d×%d, want %d×%d", dt, r, c, m, k)
			}
			for _, n := range rowCounts {
				x := Random(rng, n*k, 2)
				want, mag := MatMulT(F64(x), Decode(wt), n, k, m)
				within(t, name("%s %dx%d·%dx%d", dt, n, k, m, k), matmul(t, b, w, x, n, k), want, mag, matRel, matAbs)
			}
			free(t, b, w)
		}
	}
}

// quantCases are the MLX quantizations the engine meets: 4 and 8 bits,
// groups of 32 and 64, scales stored as BF16, F16 or F32.
var quantCases = []struct {
	bits, group int
	dt          modelfile.DType
}{
	{4, 64, modelfile.BF16}, {4, 32, modelfile.F16}, {8, 64, modelfile.F16}, {8, 32, modelfile.BF16}, {4, 64, modelfile.F32},
}

func testMatMulQuantized(t *testing.T, b tensor.Backend) {
	rng := NewRand(2)
	for _, qc := range quantCases {
		m, k := 70, 256
		qz := Quantize("w.weight", Random(rng, m*k, 1), m, k, qc.group, qc.bits, qc.dt)
		w := loadQuantized(t, b, qz)
		if r, c := w.Shape(); r != m || c != k {
			t.Errorf("quantized weight shape %d×%d, want %d×%d", r, c, m, k)
		}
		for _, n := range rowCounts {
			x := Random(rng, n*k, 2)
			want, mag := MatMulT(F64(x), qz.Values, n, k, m)
			what := name("q%d g%d %s %dx%d·%dx%d", qc.bits, qc.group, qc.dt, n, k, m, k)
			within(t, what, matmul(t, b, w, x, n, k), want, mag, matRel, matAbs)
		}
		free(t, b, w)
	}
}

// testQuantizedEqualsDequantized checks that a quantized product equals,
// on the same backend, the product with the dequantized weights stored as
// F32: same numbers, different kernels; tolerance quantRel·Σ|x·w|.
func testQuantizedEqualsDequantized(t *testing.T, b tensor.Backend) {
	rng := NewRand(3)
	for _, qc := range quantCases[:4] {
		m, k := 96, 512
		qz := Quantize("w.weight", Random(rng, m*k, 0.5), m, k, qc.group, qc.bits, qc.dt)
		wq := loadQuantized(t, b, qz)
		wd := load(t, b, Dense("d.weight", modelfile.F32, Float32s(qz.Values), m, k))
		for _, n := range []int{1, 7} {
			x := Random(rng, n*k, 1)
			dense := matmul(t, b, wd, x, n, k)
			_, mag := MatMulT(F64(x), qz.Values, n, k, m)
			what := name("q%d g%d: quantized vs dequantized, %d rows", qc.bits, qc.group, n)
			within(t, what, matmul(t, b, wq, x, n, k), F64(dense), mag, quantRel, 0)
		}
		free(t, b, wq, wd)
	}
}

func loadQuantized(t testing.TB, b tensor.Backend, qz Quantized) tensor.Weight {
	t.Helper()
	var w tensor.Weight
	run(t, b, func() (err error) {
		w, err = b.LoadQuantized(qz.W, qz.Scales, qz.Biases, qz.GroupSize, qz.Bits)
		return err
	})
	return w
}

// embed gathers ids on the backend.
func embed(t *testing.T, b tensor.Backend, w tensor.Weight, ids []int) []float32 {
	t.Helper()
	var got []float32
	run(t, b, func() (err error) {
		got, err = read(b, b.Embed(w, ids))
		return err
	})
	return got
}

// gather is the reference: rows ids of the rows×cols values v.
func gather(v []float64, cols int, ids []int) []float64 {
	var out []float64
	for _, id := range ids {
		out = append(out, v[id*cols:(id+1)*cols]...)
	}
	return out
}

// testEmbedDense checks that gathered F16/BF16/F32 rows are exact.
func testEmbedDense(t *testing.T, b tensor.Backend) {
	rng := NewRand(4)
	ids := []int{3, 0, 3, 11}
	for _, dt := range []modelfile.DType{modelfile.F32, modelfile.F16, modelfile.BF16} {
		wt := Dense("e.weight", dt, Random(rng, 12*40, 3), 12, 40)
		w := load(t, b, wt)
		within(t, name("embed %s", dt), embed(t, b, w, ids), gather(Decode(wt), 40, ids), nil, 0, 0)
		free(t, b, w)
	}
}

// testEmbedQuantized checks dequantized rows to 1e-6 of max(|value|,
// |scale|·2^bits) (the float32 rounding of scale·q + bias).
func testEmbedQuantized(t *testing.T, b tensor.Backend) {
	rng := NewRand(5)
	ids := []int{9, 1, 1, 0}
	for _, qc := range quantCases {
		qz := Quantize("e.weight", Random(rng, 10*128, 1), 10, 128, qc.group, qc.bits, qc.dt)
		w := loadQuantized(t, b, qz)
		want := gather(qz.Values, 128, ids)
		scale := make([]float64, len(want))
		for i := range scale {
			scale[i] = 2 // |values| ≤ 1 and |scale·2^bits| ≤ 2
		}
		within(t, name("embed q%d g%d %s", qc.bits, qc.group, qc.dt), embed(t, b, w, ids), want, scale, 1e-6, 0)
		free(t, b, w)
	}
}

// testEmbedHalfSpecialValues gathers halves whose conversion is easy to
// get wrong: signed zeros, subnormals, the extremes, infinities and NaN.
func testEmbedHalfSpecials(t *testing.T, b tensor.Backend) {
	f16 := []uint16{0x0000, 0x8000, 0x0001, 0x83ff, 0x0400, 0x3c00, 0xc100, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x3555, 0x7e00, 0x0200}
	bf := []uint16{0x0000, 0x8000, 0x0001, 0x807f, 0x0080, 0x3f80, 0xc020, 0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x3eab, 0x7fc0, 0x0040}
	for _, c := range []struct {
		dt   modelfile.DType
		bits []uint16
		dec  func(uint16) float64
	}{{modelfile.F16, f16, DecodeF16}, {modelfile.BF16, bf, DecodeBF16}} {
		data := make([]byte, 2*len(c.bits))
		want := make([]float64, len(c.bits))
		for i, h := range c.bits {
			data[2*i], data[2*i+1] = byte(h), byte(h>>8)
			want[i] = c.dec(h)
		}
		w := load(t, b, modelfile.Tensor{Name: "s.weight", DType: c.dt, Shape: []int{2, len(c.bits) / 2}, Data: data})
		got := embed(t, b, w, []int{0, 1})
		for i, g := range got {
			same := float64(g) == want[i] && math.Signbit(float64(g)) == math.Signbit(want[i])
			if !same && !(math.IsNaN(want[i]) && g != g) {
				t.Errorf("%s %#04x = %v, want %v", c.dt, c.bits[i], g, want[i])
			}
		}
		free(t, b, w)
	}
}

// testMatMuls checks tensor.MatMuls (one dispatch where the backend
// offers it, else MatMul after MatMul) on q/k/v-shaped weights of
// different heights: each output is x times its own weight.
func testMatMuls(t *testing.T, b tensor.Backend) {
	rng := NewRand(4)
	const k = 256
	var qzs []Quantized
	var ws []tensor.Weight
	for _, m := range []int{96, 32, 32} {
		qz := Quantize("w.weight", Random(rng, m*k, 1), m, k, 64, 4, modelfile.BF16)
		qzs = append(qzs, qz)
		ws = append(ws, loadQuantized(t, b, qz))
	}
	for _, n := range rowCounts {
		x := Random(rng, n*k, 2)
		got := make([][]float32, len(ws))
		run(t, b, func() error {
			out := make([]tensor.Array, len(ws))
			tensor.MatMuls(b, b.FromFloat32(n, k, x), ws, out)
			for i, y := range out {
				var err error
				if got[i], err = read(b, y); err != nil {
					return err
				}
			}
			return nil
		})
		for i, qz := range qzs {
			m, _ := ws[i].Shape()
			want, mag := MatMulT(F64(x), qz.Values, n, k, m)
			within(t, name("product %d of 3, %dx%d·%dx%d", i, n, k, m, k), got[i], want, mag, matRel, matAbs)
		}
	}
	free(t, b, ws[0], ws[1], ws[2])
}
