package cpu_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// BenchmarkQuantMatMul multiplies activations by the 4-bit (group 64,
// BF16 scales) MLP projections of Qwen2.5-0.5B, 896→4864 (up/gate) and
// 4864→896 (down), for one row (decode) and 64 rows (prefill). It reports
// GFLOP/s (2·rows·in·out) and the weight bytes streamed per second.
func BenchmarkQuantMatMul(b *testing.B) {
	for _, shape := range [][2]int{{4864, 896}, {896, 4864}} {
		out, in := shape[0], shape[1]
		qz := tensortest.Quantize("w.weight", tensortest.Random(tensortest.NewRand(1), out*in, 0.05), out, in, 64, 4, modelfile.BF16)
		wbytes := len(qz.W.Data) + len(qz.Scales.Data) + len(qz.Biases.Data)
		for _, rows := range []int{1, 64} {
			b.Run(fmt.Sprintf("%dto%d/rows=%d", in, out, rows), func(b *testing.B) {
				benchMatMul(b, qz, rows, in, wbytes, 2*float64(rows*in*out))
			})
		}
	}
}

func benchMatMul(b *testing.B, qz tensortest.Quantized, rows, in, wbytes int, flops float64) {
	be := cpu.New()
	defer be.Close()
	var w tensor.Weight
	x := tensortest.Random(tensortest.NewRand(2), rows*in, 1)
	err := be.Run(func() (err error) {
		w, err = be.LoadQuantized(qz.W, qz.Scales, qz.Biases, qz.GroupSize, qz.Bits)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	step := func() error {
		xa := be.FromFloat32(rows, in, x)
		return be.Eval(be.MatMul(xa, w))
	}
	cpu0 := tensortest.CPUTime()
	for b.Loop() {
		if err := be.Run(step); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(flops/sec/1e9, "GFLOP/s")
	b.ReportMetric(float64(wbytes)/sec/1e9, "weight-GB/s")
	b.ReportMetric(flops*float64(b.N)/(tensortest.CPUTime()-cpu0).Seconds()/1e9, "GFLOP/cpu-s")
}

// BenchmarkMemoryBandwidth is the baseline for the numbers above: summing
// a 512 MiB []uint32 on one goroutine and on GOMAXPROCS.
func BenchmarkMemoryBandwidth(b *testing.B) {
	for _, threads := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			var bw float64
			for b.Loop() {
				bw = tensortest.MemoryBandwidth(512<<20, threads, 3)
			}
			b.ReportMetric(bw/1e9, "GB/s")
		})
	}
}
