package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// TestMatMulQ8Activations checks decode- and prefill-sized products on
// 8-bit activations against the float64 product with x itself: each
// output within q8Bound (the most rounding x to 8 bits can move it) plus
// the float32 tolerance of the exact path (2e-6 of Σ|x·w|), for every bit
// width, group size and scale type, SIMD and portable kernels, and rows
// whose length is not a multiple of 64 (the portable kernel's tail).
func TestMatMulQ8Activations(t *testing.T) {
	rng := tensortest.NewRand(8)
	for _, portable := range []bool{false, true} {
		b := NewWithOptions(Options{Threads: 2, Portable: portable, Activations: ActivationsQ8})
		defer b.Close()
		for _, c := range []struct {
			bits, group, m, k int
			dt                modelfile.DType
		}{
			{4, 64, 70, 256, modelfile.BF16}, {4, 32, 33, 96, modelfile.F16}, {4, 128, 40, 384, modelfile.F32},
			{8, 64, 70, 256, modelfile.F16}, {8, 32, 21, 160, modelfile.BF16}, {8, 128, 17, 256, modelfile.BF16},
			{4, 32, 300, 896, modelfile.BF16},
		} {
			qz := tensortest.Quantize("w.weight", tensortest.Random(rng, c.m*c.k, 1), c.m, c.k, c.group, c.bits, c.dt)
			var w *weight
			err := b.Run(func() error {
				wt, err := b.LoadQuantized(qz.W, qz.Scales, qz.Biases, qz.GroupSize, qz.Bits)
				w, _ = wt.(*weight)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{1, 2, 3, 4, 7, 17} {
				x := tensortest.Random(rng, n*c.k, 2)
				x[0] = 40 // an outlier: its block's step is large
				got := make([]float32, n*c.m)
				if err := b.Run(func() error { return b.Read(b.MatMul(b.FromFloat32(n, c.k, x), w), got) }); err != nil {
					t.Fatal(err)
				}
				want, mag := tensortest.MatMulT(tensortest.F64(x), qz.Values, n, c.k, c.m)
				what := fmt.Sprintf("portable=%v q%d g%d %s %dx%d·%dx%d", portable, c.bits, c.group, c.dt, n, c.k, c.m, c.k)
				var worst float64
				for r := range n {
					for o := range c.m {
						i := r*c.m + o
						bound := q8Bound(x[r*c.k:(r+1)*c.k], qz.Values[o*c.k:(o+1)*c.k]) + 2e-6*mag[i] + 1e-6
						d := math.Abs(float64(got[i]) - want[i])
						if !(d <= bound) {
							t.Fatalf("%s [%d,%d] = %v, want %v: off by %.3g > bound %.3g", what, r, o, got[i], want[i], d, bound)
						}
						worst = max(worst, d/bound)
					}
				}
				t.Logf("%s: worst error %.2f of the bound", what, worst)
			}
			b.Run(func() error { w.Free(); return nil })
		}
	}
}
