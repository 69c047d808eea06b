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

// BenchmarkQuantMatMul multiplies activations by the MLP projections of
// Qwen2.5-0.5B quantized to 4 bits (groups of 64, as the model ships, and
// of 32) and 8 bits (BF16 scales), 896→4864 (up/gate) and
// 4864→896 (down), for one row (decode) and 64 rows (prefill). It reports
// GFLOP/s (2·rows·in·out) and the weight bytes streamed per second.
func BenchmarkQuantMatMul(b *testing.B) {
	for _, shape := range [][2]int{{4864, 896}, {896, 4864}} {
		for _, q := range [][2]int{{4, 64}, {4, 32}, {8, 64}} {
			out, in := shape[0], shape[1]
			bits, group := q[0], q[1]
			qz := tensortest.Quantize("w.weight", tensortest.Random(tensortest.NewRand(1), out*in, 0.05), out, in, group, bits, modelfile.BF16)
			wbytes := len(qz.W.Data) + len(qz.Scales.Data) + len(qz.Biases.Data)
			for _, rows := range []int{1, 64} {
				for _, k := range kernelOptions {
					b.Run(fmt.Sprintf("%dto%d/q%dg%d/rows=%d/%s", in, out, bits, group, rows, k.name), func(b *testing.B) {
						benchMatMul(b, cpu.NewWithOptions(k.o), qz, rows, in, wbytes, 2*float64(rows*in*out))
					})
				}
			}
		}
	}
}

// kernelOptions are the backend configurations the benchmarks compare:
// float32 activations (the exact path), 8-bit activations on the portable
// kernels and on the SIMD ones (without the AVX-512 VNNI ones, and with
// them where the CPU has them).
var kernelOptions = []struct {
	name string
	o    cpu.Options
}{
	{"f32act", cpu.Options{Activations: cpu.ActivationsF32}},
	{"q8act-portable", cpu.Options{Activations: cpu.ActivationsQ8, Portable: true}},
	{"q8act-avx2", cpu.Options{Activations: cpu.ActivationsQ8, NoVNNI: true}},
	{"q8act-simd", cpu.Options{Activations: cpu.ActivationsQ8}},
}

func benchMatMul(b *testing.B, be *cpu.Backend, qz tensortest.Quantized, rows, in, wbytes int, flops float64) {
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
// a 512 MiB buffer on one goroutine and on GOMAXPROCS.
func BenchmarkMemoryBandwidth(b *testing.B) {
	for _, threads := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			var bw float64
			for b.Loop() {
				bw = cpu.MemoryBandwidth(512<<20, threads, 3)
			}
			b.ReportMetric(bw/1e9, "GB/s")
		})
	}
}

// BenchmarkAttentionDecode is one decode step of Qwen2.5-0.5B's attention
// (14 query heads over 2 KV heads of 64) after 2,048 cached positions, for
// each KV cache element type: what storing keys and values in 16 bits
// costs the step that reads them all.
func BenchmarkAttentionDecode(b *testing.B) {
	const heads, kvHeads, dim, ctx = 14, 2, 64, 2048
	for _, dt := range []modelfile.DType{modelfile.F32, modelfile.F16, modelfile.BF16} {
		b.Run(string(dt), func(b *testing.B) {
			be := cpu.New()
			defer be.Close()
			rng := tensortest.NewRand(3)
			var kv tensor.KVCache
			err := be.Run(func() (err error) {
				if kv, err = be.NewKVCache(kvHeads, dim, ctx+1, dt); err != nil {
					return err
				}
				for off := 0; off < ctx; off += 256 {
					x := func(cols int) tensor.Array { return be.FromFloat32(256, cols, tensortest.Random(rng, 256*cols, 1)) }
					if err := be.Eval(be.Attention(x(heads*dim), x(kvHeads*dim), x(kvHeads*dim), kv, off, tensor.AttentionOpts{Scale: 0.125})); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			q, k := tensortest.Random(rng, heads*dim, 1), tensortest.Random(rng, kvHeads*dim, 1)
			step := func() error {
				qa, ka := be.FromFloat32(1, heads*dim, q), be.FromFloat32(1, kvHeads*dim, k)
				return be.Eval(be.Attention(qa, ka, ka, kv, ctx, tensor.AttentionOpts{Scale: 0.125}))
			}
			cpu0 := tensortest.CPUTime()
			for b.Loop() {
				if err := be.Run(step); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/(tensortest.CPUTime()-cpu0).Seconds(), "steps/cpu-s")
			b.ReportMetric(float64(kv.Bytes())/1e6, "cache-MB")
			be.Run(func() error { kv.Free(); return nil })
		})
	}
}
