package llama_test

import (
	"runtime"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/llama/llamatest"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// BenchmarkQwen25_05B runs a model of Qwen2.5-0.5B-Instruct-4bit's shape
// (random weights, built in memory) on the CPU backend: decode tokens/s
// with the weight bytes a step reads per second, next to this machine's
// memory bandwidth measured in the same run (the ceiling of decode), and
// prefill tokens/s for a 128-token prompt. It runs four configurations
// of the backend in the same run: float32 activations (the exact path) on
// the portable kernels (what the backend ran before its SIMD kernels) and
// on the SIMD float kernels, and 8-bit activations on the portable
// integer kernels and on the SIMD ones (the default where the CPU has
// them; "q8act-avx2" without the AVX-512 VNNI ones where the CPU has
// them), and that default again with each projection a dispatch of its
// own (q, k and v, gate and up not computed as one job: the baseline of
// tensor.MatMuls).
func BenchmarkQwen25_05B(b *testing.B) {
	cfg := llamatest.Qwen25_05B()
	w, stepBytes := llamatest.RandomQuantized(cfg, 1)
	bandwidth := cpu.MemoryBandwidth(512<<20, runtime.GOMAXPROCS(0), 3)
	for _, c := range []struct {
		name    string
		o       cpu.Options
		unfused bool
	}{
		{"f32act-portable", cpu.Options{Portable: true, Activations: cpu.ActivationsF32}, false},
		{"f32act-simd", cpu.Options{Activations: cpu.ActivationsF32}, false},
		{"q8act-portable", cpu.Options{Portable: true, Activations: cpu.ActivationsQ8}, false},
		{"q8act-avx2", cpu.Options{NoVNNI: true}, false},
		{"q8act-simd-unfused", cpu.Options{}, true},
		{"q8act-simd", cpu.Options{}, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			be := cpu.NewWithOptions(c.o)
			defer be.Close()
			var tb tensor.Backend = be
			if c.unfused {
				tb = struct{ tensor.Backend }{be} // hides MatMuls (tensor.MultiMatMul)
			}
			benchModel(b, tb, cfg, w, stepBytes, bandwidth)
		})
	}
}

func benchModel(b *testing.B, be tensor.Backend, cfg modelfile.Config, w modelfile.Weights, stepBytes int, bandwidth float64) {
	m, err := llama.Load(cfg, w, be)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	c, err := m.NewCache(2048)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	prompt := make([]int, 128)
	for i := range prompt {
		prompt[i] = (i*7919 + 11) % cfg.VocabSize
	}
	b.Run("decode", func(b *testing.B) {
		reset(b, m, c, prompt[:16])
		tok := []int{1}
		cpu0 := tensortest.CPUTime()
		for i := 0; b.Loop(); i++ {
			if c.Len() == c.MaxLen() {
				reset(b, m, c, prompt[:16])
			}
			tok[0] = (i*104729 + 3) % cfg.VocabSize
			if _, err := m.Forward(tok, c); err != nil {
				b.Fatal(err)
			}
		}
		perSec := float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(perSec, "tok/s")
		b.ReportMetric(float64(b.N)/(tensortest.CPUTime()-cpu0).Seconds(), "tok/cpu-s")
		b.ReportMetric(float64(stepBytes)*perSec/1e9, "weight-GB/s")
		b.ReportMetric(bandwidth/1e9, "mem-GB/s")
		b.ReportMetric(100*float64(stepBytes)*perSec/bandwidth, "%-of-bandwidth")
		b.ReportMetric(float64(stepBytes)/1e6, "MB/token")
	})
	b.Run("prefill128", func(b *testing.B) {
		cpu0 := tensortest.CPUTime()
		for b.Loop() {
			reset(b, m, c, prompt)
		}
		b.ReportMetric(float64(b.N*len(prompt))/b.Elapsed().Seconds(), "tok/s")
		b.ReportMetric(float64(b.N*len(prompt))/(tensortest.CPUTime()-cpu0).Seconds(), "tok/cpu-s")
	})
}

// reset empties the cache and prefills tokens.
func reset(b *testing.B, m *llama.Model, c *llama.Cache, tokens []int) {
	if err := c.Truncate(0); err != nil {
		b.Fatal(err)
	}
	if _, err := m.Forward(tokens, c); err != nil {
		b.Fatal(err)
	}
}
