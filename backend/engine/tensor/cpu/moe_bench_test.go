package cpu_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// BenchmarkMoE runs one sparse MLP of Qwen3-30B-A3B's shape (hidden 2048,
// experts of 768, top 8, 4-bit group 64 with BF16 scales; 32 of its 128
// experts to keep the benchmark's memory small — only the 8 chosen are
// read) for one row (decode) and 64 rows (prefill). It reports the
// weight bytes of the chosen experts streamed per second (decode) and
// GFLOP/s.
func BenchmarkMoE(b *testing.B) {
	const experts, hidden, inter, topK = 32, 2048, 768, 8
	rng := rand.New(rand.NewPCG(1, 2))
	stack := func(name string, rows, cols int) tensor.ExpertTensors {
		w := make([]byte, experts*rows*cols/2)
		for i := 0; i+4 <= len(w); i += 4 {
			binary.LittleEndian.PutUint32(w[i:], rng.Uint32())
		}
		groups := experts * rows * cols / 64
		s := tensortest.Dense(name+".scales", modelfile.BF16, fill(groups, 0.004), experts, rows, cols/64)
		bi := tensortest.Dense(name+".biases", modelfile.BF16, fill(groups, -0.03), experts, rows, cols/64)
		return tensor.ExpertTensors{W: modelfile.Tensor{Name: name + ".weight", DType: modelfile.U32, Shape: []int{experts, rows, cols / 8}, Data: w},
			Scales: s, Biases: bi, Mode: tensor.ExpertsAffine, GroupSize: 64, Bits: 4}
	}
	ts := []tensor.ExpertTensors{stack("gate", inter, hidden), stack("up", inter, hidden), stack("down", hidden, inter)}
	be := cpu.New()
	defer be.Close()
	op := tensor.MoE{TopK: topK, Normalize: true}
	err := be.Run(func() error {
		for i, t := range ts {
			e, err := be.LoadExperts(t)
			if err != nil {
				return err
			}
			*[]*tensor.Experts{&op.Gate, &op.Up, &op.Down}[i] = e
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	perExpert := 3 * inter * hidden * (4 + 2*16/64) / 8 // packed words + scales and biases
	for _, rows := range []int{1, 64} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			x := tensortest.Random(tensortest.NewRand(3), rows*hidden, 1)
			logits := tensortest.Random(tensortest.NewRand(4), rows*experts, 3)
			step := func() error {
				return be.Eval(be.MoE(be.FromFloat32(rows, hidden, x), be.FromFloat32(rows, experts, logits), op))
			}
			for b.Loop() {
				if err := be.Run(step); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(2*float64(rows*topK*3*inter*hidden)/sec/1e9, "GFLOP/s")
			if rows == 1 {
				b.ReportMetric(float64(topK*perExpert)/sec/1e9, "weight-GB/s")
			}
		})
	}
}

func fill(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}
