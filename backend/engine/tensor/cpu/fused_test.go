package cpu

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// TestMatMuls_SameAsMatMul: MatMuls gives bit for bit what MatMul gives
// for each weight, whether the products run as one job (quantized weights
// of one bits and group, on 8-bit activations: q/k/v-shaped weights of
// 128 to 300 rows, row counts that are no multiple of the pool's claim)
// or one after another (mixed bits, dense weights, float32 activations),
// for decode and prefill sizes, on the SIMD and portable kernels.
func TestMatMuls_SameAsMatMul(t *testing.T) {
	rng := tensortest.NewRand(21)
	const k = 256
	quant := func(rows, bits, group int) weightSet {
		qz := tensortest.Quantize("w.weight", tensortest.Random(rng, rows*k, 1), rows, k, group, bits, modelfile.BF16)
		return weightSet{qz.W, qz.Scales, qz.Biases}
	}
	dense := func(rows int) weightSet {
		return weightSet{w: tensortest.Dense("w.weight", modelfile.F16, tensortest.Random(rng, rows*k, 1), rows, k)}
	}
	for _, c := range []struct {
		name    string
		weights []weightSet
		bits    []int // 0: dense
		group   []int
	}{
		{"qkv q4g64", []weightSet{quant(300, 4, 64), quant(128, 4, 64), quant(128, 4, 64)}, []int{4, 4, 4}, []int{64, 64, 64}},
		{"gate/up q8g32", []weightSet{quant(70, 8, 32), quant(70, 8, 32)}, []int{8, 8}, []int{32, 32}},
		{"one q4g32", []weightSet{quant(33, 4, 32)}, []int{4}, []int{32}},
		{"mixed bits", []weightSet{quant(40, 4, 64), quant(24, 8, 64), quant(17, 4, 64)}, []int{4, 8, 4}, []int{64, 64, 64}},
		{"mixed groups", []weightSet{quant(40, 4, 64), quant(24, 4, 32)}, []int{4, 4}, []int{64, 32}},
		{"dense", []weightSet{dense(20), dense(9)}, []int{0, 0}, []int{0, 0}},
	} {
		for _, o := range []Options{{Threads: 2, Activations: ActivationsQ8}, {Threads: 2, Portable: true, Activations: ActivationsQ8},
			{Threads: 2, Activations: ActivationsF32}, {Threads: 1, Activations: ActivationsQ8}} {
			b := NewWithOptions(o)
			ws := make([]tensor.Weight, len(c.weights))
			err := b.Run(func() error {
				for i, w := range c.weights {
					var err error
					if c.bits[i] == 0 {
						ws[i], err = b.LoadDense(w.w)
					} else {
						ws[i], err = b.LoadQuantized(w.w, w.scales, w.biases, c.group[i], c.bits[i])
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{1, 3, 4, 9} {
				x := tensortest.Random(rng, n*k, 2)
				what := fmt.Sprintf("%s, %+v, %d rows", c.name, o, n)
				want := make([][]float32, len(ws))
				got := make([][]float32, len(ws))
				err := b.Run(func() error {
					xa := b.FromFloat32(n, k, x)
					for i, w := range ws {
						rows, _ := w.Shape()
						want[i] = make([]float32, n*rows)
						if err := b.Read(b.MatMul(xa, w), want[i]); err != nil {
							return err
						}
					}
					out := make([]tensor.Array, len(ws))
					b.MatMuls(xa, ws, out)
					for i, y := range out {
						rows, _ := ws[i].Shape()
						if r, cols := y.Shape(); r != n || cols != rows {
							return fmt.Errorf("output %d is %d×%d, want %d×%d", i, r, cols, n, rows)
						}
						got[i] = make([]float32, n*rows)
						if err := b.Read(y, got[i]); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				for i := range ws {
					if !slices.Equal(got[i], want[i]) {
						t.Fatalf("%s: product %d differs from MatMul's", what, i)
					}
				}
			}
			b.Run(func() error {
				for _, w := range ws {
					w.Free()
				}
				return nil
			})
			b.Close()
		}
	}
}

// weightSet is a weight's tensors (scales and biases when quantized).
type weightSet struct{ w, scales, biases modelfile.Tensor }

// TestMatMuls_BadArguments: a count mismatch, a freed weight or a weight
// of another width is an error recorded as MatMul records it, never a
// panic or an output of the wrong shape passed off as computed.
func TestMatMuls_BadArguments(t *testing.T) {
	rng := tensortest.NewRand(22)
	b := NewWithOptions(Options{Threads: 2, Activations: ActivationsQ8})
	defer b.Close()
	load := func(rows, k int) tensor.Weight {
		qz := tensortest.Quantize("w.weight", tensortest.Random(rng, rows*k, 1), rows, k, 64, 4, modelfile.BF16)
		var w tensor.Weight
		if err := b.Run(func() error {
			var err error
			w, err = b.LoadQuantized(qz.W, qz.Scales, qz.Biases, 64, 4)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return w
	}
	a, wide, freed := load(8, 128), load(8, 256), load(8, 128)
	b.Run(func() error { freed.Free(); return nil })
	for _, c := range []struct {
		name string
		ws   []tensor.Weight
		outs int
		want string
	}{
		{"fewer outputs", []tensor.Weight{a, a}, 1, "1 outputs for 2 weights"},
		{"more outputs", []tensor.Weight{a}, 2, "2 outputs for 1 weights"},
		{"freed weight", []tensor.Weight{a, freed}, 2, "freed"},
		{"other width", []tensor.Weight{a, wide}, 2, "weight is 8×256"},
		{"four weights, one too wide", []tensor.Weight{a, a, a, wide}, 4, "weight is 8×256"},
	} {
		err := b.Run(func() error {
			out := make([]tensor.Array, c.outs)
			b.MatMuls(b.FromFloat32(1, 128, tensortest.Random(rng, 128, 1)), c.ws, out)
			for i, y := range out {
				if y == nil {
					return fmt.Errorf("output %d is nil", i)
				}
			}
			return b.Eval(out[0])
		})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
	// More weights than one job takes are computed one by one.
	err := b.Run(func() error {
		out := make([]tensor.Array, 4)
		b.MatMuls(b.FromFloat32(1, 128, tensortest.Random(rng, 128, 1)), []tensor.Weight{a, a, a, a}, out)
		return b.Eval(out[3])
	})
	if err != nil {
		t.Errorf("four weights: %v", err)
	}
}
