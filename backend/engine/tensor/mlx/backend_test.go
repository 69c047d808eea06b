//go:build cgo && (linux || darwin)

package mlx_test

import (
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/llama/llamatest"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tensor/mlx"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// The MLX tests need a real libmlxc (mlx-c 0.6.0): a Mac with Homebrew's
// mlx-c, or a local CPU build named by MODELBAR_MLX_LIB. Without one they
// are skipped, saying why; with MODELBAR_MLX_LIB set, a library that does
// not load fails them instead.
var lib = sync.OnceValues(mlx.Open)

func openLib(t testing.TB) *mlx.Lib {
	t.Helper()
	l, err := lib()
	if err != nil {
		if os.Getenv(mlx.EnvLib) != "" {
			t.Fatalf("%s is set but the library does not load: %v", mlx.EnvLib, err)
		}
		t.Skipf("MLX backend tests skipped (set %s to a libmlxc of mlx-c 0.6.0 to run them): %v", mlx.EnvLib, err)
	}
	return l
}

// devices are the MLX devices the tests run on: the CPU device always,
// the GPU where Metal is available; only the one MODELBAR_MLX_DEVICE names
// when it is set (the macOS workflow gates on cpu and tries gpu apart).
func devices(t *testing.T) []string {
	l := openLib(t)
	if d, err := mlx.DeviceFromEnv(); err != nil {
		t.Fatal(err)
	} else if d != "" {
		return []string{d}
	}
	d := []string{"cpu"}
	if metal, err := l.MetalAvailable(); err == nil && metal {
		d = append(d, "gpu")
	}
	return d
}

func newBackend(t testing.TB, device string) *mlx.Backend {
	t.Helper()
	b, err := mlx.New(openLib(t), mlx.Options{Device: device})
	if err != nil {
		t.Fatalf("New(%s): %v", device, err)
	}
	return b
}

func TestConformance(t *testing.T) {
	for _, d := range devices(t) {
		t.Run(d, func(t *testing.T) {
			tensortest.RunConformance(t, func(t testing.TB) tensor.Backend { return newBackend(t, d) })
		})
	}
}

func TestForwardConformance(t *testing.T) {
	for _, d := range devices(t) {
		t.Run(d, func(t *testing.T) {
			llamatest.RunConformance(t, func(t testing.TB) tensor.Backend { return newBackend(t, d) })
		})
	}
}

// TestGreedy_SameTokensAsCPU decodes every generated test model greedily
// on the CPU backend and on MLX: the tokens must be the same, except
// after a step where the CPU's two best logits are closer than the
// forward-pass tolerance (a tie either backend may break).
// exactCPU is the CPU backend as the oracle: on float32 activations, the
// path checked against the float64 reference at LogitTol (by default it
// rounds activations to 8 bits where it has SIMD kernels, which MLX does
// not).
func exactCPU() *cpu.Backend {
	return cpu.NewWithOptions(cpu.Options{Threads: 2, Activations: cpu.ActivationsF32})
}

func TestGreedy_SameTokensAsCPU(t *testing.T) {
	for _, d := range devices(t) {
		for _, s := range llamatest.Specs {
			t.Run(d+"/"+s.Name, func(t *testing.T) {
				ref := exactCPU()
				defer ref.Close()
				b := newBackend(t, d)
				defer b.Close()
				cfg, w := llamatest.Build(s)
				want, margins := greedy(t, cfg, w, ref)
				got, _ := greedy(t, cfg, w, b)
				for i := range want {
					if got[i] == want[i] {
						continue
					}
					if margins[i] > 2*llamatest.LogitTol {
						t.Fatalf("token %d: mlx %d, cpu %d (cpu margin %.3g); mlx %v, cpu %v", i, got[i], want[i], margins[i], got, want)
					}
					t.Logf("token %d: a near tie (margin %.3g); compared up to here", i, margins[i])
					return
				}
				t.Logf("same %d tokens: %v", len(want), want)
			})
		}
	}
}

// greedy decodes 24 tokens after a fixed prompt and returns them with the
// relative margin between the two best logits of each step.
func greedy(t *testing.T, cfg modelfile.Config, w modelfile.Weights, b tensor.Backend) (tokens []int, margins []float64) {
	t.Helper()
	m, err := llama.Load(cfg, w, b)
	if err != nil {
		t.Fatalf("Load on %s: %v", b.Name(), err)
	}
	defer m.Close()
	c, err := m.NewCache(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	next := []int{1, 17, 42, 5, 79, 0, 33}
	for range 24 {
		logits, err := m.Forward(next, c)
		if err != nil {
			t.Fatalf("Forward on %s: %v", b.Name(), err)
		}
		best, second, scale := 0, -1, 0.0
		for i, v := range logits {
			scale = max(scale, math.Abs(float64(v)))
			if v > logits[best] {
				best, second = i, best
			} else if i != best && (second < 0 || v > logits[second]) {
				second = i
			}
		}
		tokens = append(tokens, best)
		margins = append(margins, float64(logits[best]-logits[second])/(1+scale))
		next = []int{best}
	}
	return tokens, margins
}

// TestMemory_NoGrowthOverManyRequests runs 1,000 short requests (a cache,
// a prefill, a few decode steps, the cache closed) on one loaded model:
// MLX's active memory after them equals what it was after the first ten.
func TestMemory_NoGrowthOverManyRequests(t *testing.T) {
	for _, d := range devices(t) {
		t.Run(d, func(t *testing.T) {
			b := newBackend(t, d)
			defer b.Close()
			cfg, w := llamatest.Build(llamatest.Specs[3]) // 4-bit, tied, llama3 rope
			m, err := llama.Load(cfg, w, b)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			request := func() {
				c, err := m.NewCache(0)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				logits, err := m.Forward([]int{1, 2, 3, 4, 5, 6, 7, 8}, c)
				for i := 0; err == nil && i < 4; i++ {
					logits, err = m.Forward([]int{slices.Index(logits, slices.Max(logits))}, c)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			for range 10 {
				request()
			}
			before, err := b.Memory()
			if err != nil {
				t.Fatal(err)
			}
			for range 990 {
				request()
			}
			after, err := b.Memory()
			if err != nil {
				t.Fatal(err)
			}
			if after.Active != before.Active {
				t.Errorf("active memory %d bytes after 1,000 requests, %d after 10", after.Active, before.Active)
			}
			t.Logf("active %d bytes, cache %d, peak %d", after.Active, after.Cache, after.Peak)
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	b := newBackend(t, "cpu")
	defer b.Close()
	if err := b.SetMemoryLimit(1 << 30); err != nil {
		t.Errorf("SetMemoryLimit: %v", err)
	}
	if err := b.SetMemoryLimit(0); err == nil {
		t.Error("SetMemoryLimit(0) succeeded")
	}
}

func TestNew_Devices(t *testing.T) {
	l := openLib(t)
	metal, err := l.MetalAvailable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := mlx.New(l, mlx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	want := map[bool]string{true: "mlx gpu", false: "mlx cpu"}[metal]
	if b.Name() != want {
		t.Errorf("Name() = %q, want %q", b.Name(), want)
	}
	if !metal {
		if _, err := mlx.New(l, mlx.Options{Device: "gpu"}); err == nil {
			t.Error("New with the gpu device succeeded without Metal")
		}
	}
	if _, err := mlx.New(l, mlx.Options{Device: "tpu"}); err == nil {
		t.Error("New with an unknown device succeeded")
	}
}

func TestRun_AfterCloseFails(t *testing.T) {
	b := newBackend(t, "cpu")
	b.Close()
	b.Close()
	if err := b.Run(func() error { return nil }); err != mlx.ErrClosed {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

// A group size MLX's kernels do not take (16; the CPU backend takes it) is
// refused at load with an error naming it, never an abort of the process.
func TestQuantized_OddGroupSizeRefused(t *testing.T) {
	qz := tensortest.Quantize("w.weight", tensortest.Random(tensortest.NewRand(5), 8*32, 1), 8, 32, 16, 4, modelfile.BF16)
	b := newBackend(t, "cpu")
	defer b.Close()
	err := b.Run(func() error {
		w, err := b.LoadQuantized(qz.W, qz.Scales, qz.Biases, qz.GroupSize, qz.Bits)
		if err == nil {
			w.Free()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "group size 16") {
		t.Errorf("LoadQuantized with groups of 16 = %v, want an error naming the group size", err)
	}
}

// A panic inside Run reaches the caller, as on the CPU backend, and the
// backend keeps working.
func TestRun_PanicReachesCaller(t *testing.T) {
	b := newBackend(t, "cpu")
	defer b.Close()
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want boom", p)
			}
		}()
		b.Run(func() error { panic("boom") })
	}()
	if err := b.Run(func() error { return nil }); err != nil {
		t.Errorf("Run after a panic: %v", err)
	}
}

// A model read from disk is loaded by MLX's own safetensors loader —
// dense bfloat16, 4-bit quantized, sharded — and answers as the CPU
// backend does from the same files.
func TestLoad_FromSafetensorsFiles(t *testing.T) {
	for name, spec := range map[string]testmodel.Spec{
		"llama_bf16":            {Seed: 3},
		"qwen2_q4_tied_sharded": {Seed: 4, Architecture: "qwen2", TieWordEmbeddings: true, Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4}, Shards: 2},
		// Added for gemma3 and phi3 (issue 16): tensors named language_model.* in
		// the file (pattern 1: every layer global), and fused projections
		// split by rows with longrope's factor folded into q and k.
		"gemma3_nested_q4": {Seed: 5, Architecture: "gemma3", SlidingWindowPattern: 1, FinalLogitSoftcapping: 5,
			Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4}},
		"phi3_q4_partial_longrope": {Seed: 6, Architecture: "phi3", PartialRotaryFactor: 0.5, Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 4},
			RopeScaling: &modelfile.RopeScaling{Type: "longrope", OriginalMaxPositionEmbeddings: 512, ShortFactor: []float64{1, 1, 1, 1}, LongFactor: []float64{1, 2, 4, 8}}},
	} {
		t.Run(name, func(t *testing.T) { testLoadFromFiles(t, spec) })
	}
}

func testLoadFromFiles(t *testing.T, spec testmodel.Spec) {
	dir := t.TempDir() + "/model"
	if err := testmodel.Write(dir, spec); err != nil {
		t.Fatal(err)
	}
	files, err := modelfile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	logits := func(b tensor.Backend) []float32 {
		m, err := llama.Load(files.Config(), files, b)
		if err != nil {
			t.Fatalf("Load on %s: %v", b.Name(), err)
		}
		defer m.Close()
		c, err := m.NewCache(0)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		out, err := m.Forward([]int{1, 2, 3, 4}, c)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ref := exactCPU()
	defer ref.Close()
	b := newBackend(t, "cpu")
	defer b.Close()
	want, got := logits(ref), logits(b)
	if n := mlx.FileLoads(b); n == 0 {
		t.Error("no tensor was read by MLX's safetensors loader")
	} else {
		t.Logf("%d tensors read by MLX from the files", n)
	}
	scale := 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > llamatest.LogitTol*(1+scale) {
			t.Fatalf("logit %d: mlx %v, cpu %v", i, got[i], want[i])
		}
	}
}

// TestKVCacheCopy_OwnMemory copies a few positions of a long cache and
// frees the cache: the copy must not keep the source's memory alive (an
// MLX slice is a view of its input's buffer, contiguous when the cache
// has one head), or the budget would count a few positions while
// gigabytes stay held.
func TestKVCacheCopy_OwnMemory(t *testing.T) {
	b := newBackend(t, "cpu")
	defer b.Close()
	const dim, stored, copied = 64, 2048, 16
	for _, heads := range []int{1, 4} {
		active := func() int64 {
			t.Helper()
			m, err := b.Memory()
			if err != nil {
				t.Fatal(err)
			}
			return m.Active
		}
		base := active()
		var src, cp tensor.KVCache
		err := b.Run(func() (err error) {
			if src, err = b.NewKVCache(heads, dim, 4096, modelfile.F16); err != nil {
				return err
			}
			x := make([]float32, stored*heads*dim)
			for i := range x {
				x[i] = float32(i%97) / 97
			}
			kv := b.FromFloat32(stored, heads*dim, x)
			out := b.Attention(kv, kv, kv, src, 0, tensor.AttentionOpts{Scale: 0.125})
			return b.Eval(out)
		})
		if err != nil {
			t.Fatal(err)
		}
		full := src.Bytes()
		err = b.Run(func() (err error) {
			cp, err = b.CopyKVCache(src, copied)
			src.Free()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		held := active() - base
		t.Logf("%d heads: %d bytes active for the copy (Bytes %d) of a source of %d", heads, held, cp.Bytes(), full)
		if held > full/4 {
			t.Errorf("%d heads: %d bytes active after copying %d of %d positions (%d bytes) and freeing the source (%d bytes)", heads, held, copied, stored, cp.Bytes(), full)
		}
		b.Run(func() error { cp.Free(); return nil })
	}
}
