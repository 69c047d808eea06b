package cpu_test

import (
	"math"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// NaN router logits leave nothing to choose: MoE records an error
// instead of routing to an arbitrary expert.
func TestMoE_NaNLogits(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	w := tensortest.Dense("e.weight", modelfile.F32, make([]float32, 3*8*8), 3, 8, 8)
	err := b.Run(func() error {
		e, err := b.LoadExperts(tensor.ExpertTensors{W: w})
		if err != nil {
			return err
		}
		defer e.Free()
		nan := float32(math.NaN())
		logits := b.FromFloat32(1, 3, []float32{nan, nan, nan})
		return b.Eval(b.MoE(b.FromFloat32(1, 8, make([]float32, 8)), logits, tensor.MoE{Gate: e, Up: e, Down: e, TopK: 2}))
	})
	if err == nil || !strings.Contains(err.Error(), "router logits") {
		t.Fatalf("err = %v, want an error about the router logits", err)
	}
}
