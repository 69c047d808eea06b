package tensortest

import (
	"math"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Added for gemma3 (issue 16): the references and tests of Scale, Tanh,
// GELUTanh and RopePartial.

// GELUTanh is GELU's tanh approximation,
// 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))), as PyTorch's
// gelu(approximate="tanh") defines it.
func GELUTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

// RopePartial rotates the first dims values of each headDim-wide head of
// each row as Rope rotates a dims-wide head and keeps the others.
func RopePartial(x []float64, cols, headDim, dims, offset int, invFreq []float64) []float64 {
	out := make([]float64, len(x))
	copy(out, x)
	rows := len(x) / cols
	head := make([]float64, dims)
	for r := range rows {
		for h := 0; h < cols; h += headDim {
			base := r*cols + h
			copy(head, x[base:base+dims])
			copy(out[base:base+dims], Rope(head, dims, dims, offset+r, invFreq))
		}
	}
	return out
}

// testScaleTanh: Scale to one rounding (6e-8 of the result); Tanh to 2e-6
// of each value plus 1e-7.
func testScaleTanh(t *testing.T, b tensor.Backend) {
	rng := NewRand(21)
	rows, cols := 3, 5000
	x := Random(rng, rows*cols, 8)
	for _, s := range []float32{48, 1 / 30.0, -2.5} {
		want := make([]float64, len(x))
		for i, v := range x {
			want[i] = float64(v) * float64(s)
		}
		got := unaryOp(t, b, x, rows, cols, func(a tensor.Array) tensor.Array { return b.Scale(a, s) })
		within(t, name("Scale by %g", s), got, want, nil, 6e-8, 0)
	}
	want := make([]float64, len(x))
	for i, v := range x {
		want[i] = math.Tanh(float64(v))
	}
	within(t, "Tanh", unaryOp(t, b, x, rows, cols, b.Tanh), want, nil, 2e-6, 1e-7)
}

// testGELUTanh: 1e-6 of |x| (a bound of |GELU(x)|) plus 1e-7: float32
// cancellation in 1+tanh for negative x is within that.
func testGELUTanh(t *testing.T, b tensor.Backend) {
	rng := NewRand(22)
	rows, cols := 3, 5000
	x := append(Random(rng, rows*cols-6, 6), 0, -0.001, 0.001, 20, -20, 3)
	want, scale := make([]float64, len(x)), make([]float64, len(x))
	for i, v := range x {
		want[i], scale[i] = GELUTanh(float64(v)), math.Abs(float64(v))
	}
	within(t, "GELUTanh", unaryOp(t, b, x, rows, cols, b.GELUTanh), want, scale, 1e-6, 1e-7)
}

// testRopePartial rotates part of each head (and all of it): the rotated
// values to 1e-5, the others copied exactly.
func testRopePartial(t *testing.T, b tensor.Backend) {
	rng := NewRand(23)
	for _, c := range []struct {
		headDim, dims, rows, heads, offset int
	}{{16, 12, 3, 4, 5}, {24, 8, 2, 3, 70}, {16, 16, 4, 2, 0}, {32, 24, 1, 1, 9}} {
		inv := make([]float64, c.dims/2)
		for i := range inv {
			inv[i] = math.Pow(10000, -2*float64(i)/float64(c.dims)) * (1 + 0.3*float64(i%3))
		}
		var r tensor.Rope
		run(t, b, func() (err error) { r, err = b.NewRope(c.dims, inv); return err })
		cols := c.heads * c.headDim
		x := Random(rng, c.rows*cols, 1)
		want := RopePartial(F64(x), cols, c.headDim, c.dims, c.offset, inv)
		tol := make([]float64, len(want))
		for i := range tol {
			if i%c.headDim < c.dims {
				tol[i] = 1
			}
		}
		got := unaryOp(t, b, x, c.rows, cols, func(a tensor.Array) tensor.Array { return b.RopePartial(a, r, c.headDim, c.offset) })
		within(t, name("RopePartial %d of %d, %d rows × %d heads at %d", c.dims, c.headDim, c.rows, c.heads, c.offset), got, want, tol, 1e-5, 0)
		free(t, b, r)
	}
}

// testRopePartialErrors: heads narrower than the rotation, or columns
// that are not whole heads, are recorded errors.
func testRopePartialErrors(t *testing.T, b tensor.Backend) {
	var r tensor.Rope
	run(t, b, func() (err error) { r, err = b.NewRope(8, []float64{1, 0.5, 0.25, 0.125}); return err })
	defer free(t, b, r)
	for _, c := range []struct{ cols, headDim int }{{12, 6}, {20, 16}, {16, 0}} {
		err := b.Run(func() error {
			x := b.FromFloat32(1, c.cols, make([]float32, c.cols))
			_, err := read(b, b.RopePartial(x, r, c.headDim, 0))
			return err
		})
		if err == nil {
			t.Errorf("RopePartial of %d columns in heads of %d rotated over 8: no error", c.cols, c.headDim)
		}
	}
}
