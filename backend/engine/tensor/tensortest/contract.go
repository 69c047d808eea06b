package tensortest

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// testReleaseViews releases an Array before its views, one at a time,
// and churns memory in between: the remaining views keep their values.
func testReleaseViews(t *testing.T, b tensor.Backend) {
	x := []float32{1, 2, 3, 4, 5, 6}
	junk := []float32{9, 9, 9, 9, 9, 9}
	churn := func() {
		for range 8 {
			b.Release(b.FromFloat32(2, 3, junk))
			b.Add(b.FromFloat32(3, 2, junk), b.FromFloat32(3, 2, junk))
		}
	}
	check := func(a tensor.Array, want []float32) error {
		got, err := read(b, a)
		if diff := cmp.Diff(want, got); err == nil && diff != "" {
			t.Errorf("view after a release of its storage's other users (-want +got):\n%s", diff)
		}
		return err
	}
	run(t, b, func() error {
		a := b.FromFloat32(2, 3, x)
		v, s := b.Reshape(a, 3, 2), b.SliceRows(a, 1, 1)
		b.Release(a)
		b.Release(a) // twice is harmless
		churn()
		if err := check(v, x); err != nil {
			return err
		}
		b.Release(v)
		churn()
		return check(s, x[3:])
	})
}

// testErrorsRecorded makes each operation fail in its own Run: Run must
// return an error, and the next Run must start clean.
func testErrorsRecorded(t *testing.T, b tensor.Backend) {
	w := load(t, b, Dense("w.weight", modelfile.F32, make([]float32, 12), 3, 4))
	n := load(t, b, Dense("n.weight", modelfile.F32, make([]float32, 5), 5))
	kv := newKV(t, b, 1, 4, 3, modelfile.F16)
	var r tensor.Rope
	run(t, b, func() (err error) { r, err = b.NewRope(4, []float64{1, 0.5}); return err })
	x := func(rows, cols int) tensor.Array { return b.FromFloat32(rows, cols, make([]float32, rows*cols)) }
	cases := map[string]func(){
		"MatMul inner dimension":  func() { b.MatMul(x(2, 5), w) },
		"Embed id too large":      func() { b.Embed(w, []int{0, 3}) },
		"Embed negative id":       func() { b.Embed(w, []int{-1}) },
		"Add shapes":              func() { b.Add(x(2, 3), x(3, 2)) },
		"Mul shapes":              func() { b.Mul(x(2, 3), x(2, 4)) },
		"Reshape count":           func() { b.Reshape(x(2, 3), 4, 2) },
		"SliceRows range":         func() { b.SliceRows(x(2, 3), 1, 2) },
		"FromFloat32 length":      func() { b.FromFloat32(2, 2, []float32{1}) },
		"RMSNorm weight length":   func() { b.RMSNorm(x(1, 4), n, 1e-5) },
		"AddBias weight length":   func() { b.AddBias(x(1, 4), n) },
		"Rope head width":         func() { b.Rope(x(1, 6), r, 0) },
		"Attention past MaxLen":   func() { b.Attention(x(2, 4), x(2, 4), x(2, 4), kv, 2, tensor.AttentionOpts{Scale: 1}) },
		"Attention kv heads":      func() { b.Attention(x(1, 8), x(1, 8), x(1, 8), kv, 0, tensor.AttentionOpts{Scale: 1}) },
		"Read length":             func() { b.Read(x(2, 2), make([]float32, 3)) },
		"Argmax length":           func() { b.Argmax(x(2, 2), make([]int, 1)) },
		"use of a released Array": func() { a := x(1, 2); b.Release(a); b.Add(a, a) },
	}
	for what, fail := range cases {
		err := b.Run(func() error {
			fail()
			b.MatMul(x(1, 4), w) // valid, after the failure
			out := make([]float32, 3)
			if b.Read(x(1, 3), out) == nil {
				t.Errorf("%s: Read after a failed operation returned no error", what)
			}
			return nil
		})
		if err == nil {
			t.Errorf("%s: Run returned no error", what)
		}
		run(t, b, func() error { _, err := read(b, b.MatMul(x(1, 4), w)); return err })
	}
	sentinel := errors.New("mine")
	if err := b.Run(func() error { b.Add(x(1, 2), x(2, 1)); return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("Run = %v, want the function's own error", err)
	}
	free(t, b, w, n, kv, r)
}

// testLoadErrors feeds the loaders inconsistent tensors.
func testLoadErrors(t *testing.T, b tensor.Backend) {
	good := Quantize("q.weight", Random(NewRand(11), 4*64, 1), 4, 64, 64, 4, modelfile.BF16)
	short := Dense("s.weight", modelfile.F16, make([]float32, 6), 2, 4)
	short.Data = short.Data[:10]
	wrongScales := good
	wrongScales.Scales = Dense("q.scales", modelfile.BF16, make([]float32, 8), 4, 2)
	partialGroup := good
	partialGroup.GroupSize = 48
	cases := map[string]func() (tensor.Resource, error){
		"dense U32":        func() (tensor.Resource, error) { return b.LoadDense(good.W) },
		"dense short data": func() (tensor.Resource, error) { return b.LoadDense(short) },
		"dense 3-D": func() (tensor.Resource, error) {
			return b.LoadDense(Dense("t", modelfile.F32, make([]float32, 8), 2, 2, 2))
		},
		"quantized scales":    func() (tensor.Resource, error) { return loadQ(b, wrongScales) },
		"quantized group":     func() (tensor.Resource, error) { return loadQ(b, partialGroup) },
		"quantized dense w":   func() (tensor.Resource, error) { return b.LoadQuantized(short, good.Scales, good.Biases, 64, 4) },
		"rope odd dims":       func() (tensor.Resource, error) { return b.NewRope(5, []float64{1, 2}) },
		"rope frequencies":    func() (tensor.Resource, error) { return b.NewRope(8, []float64{1, 2}) },
		"kv cache of nothing": func() (tensor.Resource, error) { return b.NewKVCache(1, 8, 0, modelfile.F16) },
		"kv cache of U32":     func() (tensor.Resource, error) { return b.NewKVCache(1, 8, 4, modelfile.U32) },
	}
	for what, load := range cases {
		run(t, b, func() error {
			if r, err := load(); err == nil {
				t.Errorf("%s: no error", what)
				r.Free()
			}
			return nil
		})
	}
}

func loadQ(b tensor.Backend, qz Quantized) (tensor.Weight, error) {
	return b.LoadQuantized(qz.W, qz.Scales, qz.Biases, qz.GroupSize, qz.Bits)
}

// testRunConcurrent calls Run from several goroutines at once; each must
// see only its own values.
func testRunConcurrent(t *testing.T, b tensor.Backend) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				v := float32(g*100 + i)
				got := make([]float32, 1)
				err := b.Run(func() error {
					a := b.FromFloat32(1, 1, []float32{v})
					return b.Read(b.Add(a, a), got)
				})
				if err != nil || got[0] != 2*v {
					t.Errorf("goroutine %d: got %v, %v; want %v", g, got[0], err, 2*v)
				}
			}
		})
	}
	wg.Wait()
}
