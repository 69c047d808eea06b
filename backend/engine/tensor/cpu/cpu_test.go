package cpu_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"

	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// TestConformance runs the backend suite on float32 activations (the
// exact path; 8-bit activations are checked against their own bound by
// TestMatMulQ8Activations), with the SIMD kernels and the portable ones.
func TestConformance(t *testing.T) {
	for _, o := range []cpu.Options{{Threads: 1}, {Threads: 3}, {Threads: 2, Portable: true}} {
		o.Activations = cpu.ActivationsF32
		t.Run(fmt.Sprintf("%dthreads,portable=%v", o.Threads, o.Portable), func(t *testing.T) {
			tensortest.RunConformance(t, func(testing.TB) tensor.Backend { return cpu.NewWithOptions(o) })
		})
	}
}

// TestHalfConversion_Exhaustive gathers every F16 and BF16 value through
// the backend and compares it with the decoders written from the formats.
func TestHalfConversion_Exhaustive(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	for _, c := range []struct {
		dt  modelfile.DType
		dec func(uint16) float64
	}{{modelfile.F16, tensortest.DecodeF16}, {modelfile.BF16, tensortest.DecodeBF16}} {
		data := make([]byte, 2<<16)
		for h := range 1 << 16 {
			data[2*h], data[2*h+1] = byte(h), byte(h>>8)
		}
		got := make([]float32, 1<<16)
		err := b.Run(func() error {
			w, err := b.LoadDense(modelfile.Tensor{Name: "all", DType: c.dt, Shape: []int{1, 1 << 16}, Data: data})
			if err != nil {
				return err
			}
			defer w.Free()
			return b.Read(b.Embed(w, []int{0}), got)
		})
		if err != nil {
			t.Fatal(err)
		}
		for h, g := range got {
			want := c.dec(uint16(h))
			if math.IsNaN(want) {
				if !math.IsNaN(float64(g)) {
					t.Errorf("%s %#04x = %v, want NaN", c.dt, h, g)
				}
				continue
			}
			if float64(g) != want || math.Signbit(float64(g)) != math.Signbit(want) {
				t.Errorf("%s %#04x = %v, want %v", c.dt, h, g, want)
			}
		}
	}
}

func TestRun_AfterCloseFails(t *testing.T) {
	b := cpu.NewThreads(2)
	b.Close()
	b.Close()
	if err := b.Run(func() error { return nil }); !errors.Is(err, cpu.ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}
