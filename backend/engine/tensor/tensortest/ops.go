package tensortest

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// unaryOp runs op on the rows×cols values x and reads the result.
func unaryOp(t *testing.T, b tensor.Backend, x []float32, rows, cols int, op func(tensor.Array) tensor.Array) []float32 {
	t.Helper()
	var got []float32
	run(t, b, func() (err error) {
		got, err = read(b, op(b.FromFloat32(rows, cols, x)))
		return err
	})
	return got
}

// testAddBias: one float32 addition per element, so 1 ulp (6e-8 of the
// larger operand; 1.2e-7 of the result's bound |x|+|b|).
func testAddBias(t *testing.T, b tensor.Backend) {
	rng := NewRand(6)
	for _, dt := range []modelfile.DType{modelfile.F32, modelfile.BF16} {
		rows, cols := 5, 48
		bt := Dense("b.bias", dt, Random(rng, cols, 1), cols)
		bias := load(t, b, bt)
		x := Random(rng, rows*cols, 1)
		want, scale := make([]float64, rows*cols), make([]float64, rows*cols)
		bv := Decode(bt)
		for i := range want {
			want[i] = float64(x[i]) + bv[i%cols]
			scale[i] = math.Abs(float64(x[i])) + math.Abs(bv[i%cols])
		}
		got := unaryOp(t, b, x, rows, cols, func(a tensor.Array) tensor.Array { return b.AddBias(a, bias) })
		within(t, name("AddBias %s", dt), got, want, scale, 1.2e-7, 0)
		free(t, b, bias)
	}
}

// testRMSNorm: relative error 2e-6 of each output, plus 1e-7.
func testRMSNorm(t *testing.T, b tensor.Backend) {
	rng := NewRand(7)
	for _, c := range []struct {
		rows, cols int
		eps        float64
		xScale     float64
	}{{3, 64, 1e-5, 1}, {1, 896, 1e-6, 30}, {4, 16, 0.5, 0.1}} {
		wt := Dense("n.weight", modelfile.F16, Random(rng, c.cols, 2), c.cols)
		w := load(t, b, wt)
		x := Random(rng, c.rows*c.cols, c.xScale)
		want := RMSNorm(F64(x), Decode(wt), c.eps)
		got := unaryOp(t, b, x, c.rows, c.cols, func(a tensor.Array) tensor.Array { return b.RMSNorm(a, w, float32(c.eps)) })
		within(t, name("RMSNorm %dx%d eps %g", c.rows, c.cols, c.eps), got, want, nil, 2e-6, 1e-7)
		free(t, b, w)
	}
}

// testRope: positions up to 70, so float32 angles are good to ~4e-6 rad;
// tolerance 1e-5 (values are at most 1).
func testRope(t *testing.T, b tensor.Backend) {
	rng := NewRand(8)
	dims := 16
	base := make([]float64, dims/2)
	for i := range base {
		base[i] = math.Pow(10000, -2*float64(i)/float64(dims))
	}
	scaled := append([]float64(nil), base...)
	scaled[5], scaled[7] = scaled[5]/8, scaled[7]/3.3 // as Llama 3's scaling does
	for _, c := range []struct {
		invFreq             []float64
		rows, heads, offset int
	}{{base, 1, 1, 0}, {base, 3, 4, 7}, {scaled, 5, 2, 64}} {
		var r tensor.Rope
		run(t, b, func() (err error) { r, err = b.NewRope(dims, c.invFreq); return err })
		if r.Dims() != dims {
			t.Errorf("Rope.Dims() = %d, want %d", r.Dims(), dims)
		}
		cols := c.heads * dims
		x := Random(rng, c.rows*cols, 1)
		want := Rope(F64(x), cols, dims, c.offset, c.invFreq)
		got := unaryOp(t, b, x, c.rows, cols, func(a tensor.Array) tensor.Array { return b.Rope(a, r, c.offset) })
		within(t, name("Rope %d rows × %d heads at %d", c.rows, c.heads, c.offset), got, want, ones(len(want)), 1e-5, 0)
		free(t, b, r)
	}
}

// testSoftmax: 2e-6 of each probability plus 1e-7, including rows that
// overflow a naive exp.
func testSoftmax(t *testing.T, b tensor.Backend) {
	x := append(Random(NewRand(9), 3*50, 8), 1000, 999, -1000, 1000)
	x = append(x, make([]float32, 46)...)
	var want []float64
	for r := range 4 {
		want = append(want, Softmax(F64(x[r*50:(r+1)*50]))...)
	}
	got := unaryOp(t, b, x, 4, 50, b.Softmax)
	within(t, "Softmax", got, want, nil, 2e-6, 1e-7)
}

// testElementwise: SiLU to 2e-6 relative plus 1e-7; Mul and Add to one
// rounding (6e-8 of the result's bound).
func testElementwise(t *testing.T, b tensor.Backend) {
	rng := NewRand(10)
	rows, cols := 3, 5000 // large enough for a backend to split the work
	x, y := Random(rng, rows*cols, 12), Random(rng, rows*cols, 3)
	silu, mul, add, addScale := make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x))
	for i := range x {
		a, c := float64(x[i]), float64(y[i])
		silu[i], mul[i], add[i] = SiLU(a), a*c, a+c
		addScale[i] = math.Abs(a) + math.Abs(c)
	}
	within(t, "SiLU", unaryOp(t, b, x, rows, cols, b.SiLU), silu, nil, 2e-6, 1e-7)
	withY := func(op func(x, y tensor.Array) tensor.Array) func(tensor.Array) tensor.Array {
		return func(a tensor.Array) tensor.Array { return op(a, b.FromFloat32(rows, cols, y)) }
	}
	within(t, "Mul", unaryOp(t, b, x, rows, cols, withY(b.Mul)), mul, nil, 6e-8, 0)
	within(t, "Add", unaryOp(t, b, x, rows, cols, withY(b.Add)), add, addScale, 6e-8, 0)
}

func testArgmax(t *testing.T, b tensor.Backend) {
	x := []float32{
		1, 3, 3, 2, // ties: the first
		-5, -4, -9, -4.5,
		0, 0, 0, 0,
		2, 1, 7, 7.0001,
	}
	got := make([]int, 4)
	run(t, b, func() error { return b.Argmax(b.FromFloat32(4, 4, x), got) })
	if diff := cmp.Diff([]int{1, 1, 0, 3}, got); diff != "" {
		t.Errorf("Argmax (-want +got):\n%s", diff)
	}
}

// testViews: FromFloat32 and Read round-trip exactly; Reshape and
// SliceRows select the right values.
func testViews(t *testing.T, b tensor.Backend) {
	x := make([]float32, 24)
	for i := range x {
		x[i] = float32(i)
	}
	run(t, b, func() error {
		a := b.FromFloat32(4, 6, x)
		checks := []struct {
			a          tensor.Array
			rows, cols int
			want       []float32
		}{
			{a, 4, 6, x},
			{b.Reshape(a, 8, 3), 8, 3, x},
			{b.SliceRows(a, 1, 2), 2, 6, x[6:18]},
			{b.SliceRows(b.Reshape(a, 12, 2), 11, 1), 1, 2, x[22:]},
		}
		for i, c := range checks {
			if r, cl := c.a.Shape(); r != c.rows || cl != c.cols {
				t.Errorf("view %d: shape %d×%d, want %d×%d", i, r, cl, c.rows, c.cols)
			}
			got, err := read(b, c.a)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("view %d (-want +got):\n%s", i, diff)
			}
		}
		return b.Eval(a)
	})
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}
