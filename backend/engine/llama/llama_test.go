package llama_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/llama/llamatest"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// exactCPU is a CPU backend on float32 activations, for tests that
// compare with the float64 reference under LogitTol (the conformance
// suite checks 8-bit activations under their own tolerance).
func exactCPU(threads int) *cpu.Backend {
	return cpu.NewWithOptions(cpu.Options{Threads: threads, Activations: cpu.ActivationsF32})
}

func TestConformance_CPU(t *testing.T) {
	llamatest.RunConformance(t, func(testing.TB) tensor.Backend { return cpu.NewThreads(2) })
}

// spec returns the named tiny model.
func spec(t testing.TB, name string) llamatest.Spec {
	for _, s := range llamatest.Specs {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no spec %s", name)
	return llamatest.Spec{}
}

func load(t testing.TB, b tensor.Backend, name string) *llama.Model {
	t.Helper()
	cfg, w := llamatest.Build(spec(t, name))
	m, err := llama.Load(cfg, w, b)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// loadExact loads the spec with float32 KV caches and returns it with the
// float64 reference to compare it with under LogitTol.
func loadExact(t testing.TB, b tensor.Backend, name string) (*llama.Model, *llamatest.Reference) {
	t.Helper()
	cfg, w := llamatest.Build(spec(t, name))
	m, err := llama.Load(cfg, w, b)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.SetKVDType(modelfile.F32); err != nil {
		t.Fatal(err)
	}
	return m, llamatest.NewReference(cfg, w).WithKV(modelfile.F32)
}

func TestLoad_ErrorsNameTheTensor(t *testing.T) {
	testLoadErrors(t, []loadError{
		{"llama_f32_gqa", "model.layers.1.mlp.down_proj.weight", func(_ *modelfile.Config, w tensortest.Weights) {
			delete(w, "model.layers.1.mlp.down_proj.weight")
		}},
		{"llama_f32_gqa", "model.layers.0.self_attn.q_proj.weight", func(_ *modelfile.Config, w tensortest.Weights) {
			t := w["model.layers.0.self_attn.q_proj.weight"]
			t.Shape = []int{t.Shape[1], t.Shape[0] / 2, 2}
			w[t.Name] = t
		}},
		{"llama_f32_gqa", "lm_head.weight", func(_ *modelfile.Config, w tensortest.Weights) { delete(w, "lm_head.weight") }},
		{"llama_f32_gqa", "model.norm.weight", func(_ *modelfile.Config, w tensortest.Weights) {
			t := w["model.norm.weight"]
			t.Shape = []int{t.Shape[0] / 2, 2}
			w[t.Name] = t
		}},
		{"llama_f32_gqa", "model.norm.weight", func(_ *modelfile.Config, w tensortest.Weights) {
			t := w["model.norm.weight"]
			t.DType = modelfile.I32
			w[t.Name] = t
		}},
		{"qwen2_q4g32_tied_bias", "model.layers.0.self_attn.k_proj.biases", func(_ *modelfile.Config, w tensortest.Weights) {
			delete(w, "model.layers.0.self_attn.k_proj.biases")
		}},
		{"qwen2_q4g32_tied_bias", "model.layers.1.self_attn.v_proj.bias", func(_ *modelfile.Config, w tensortest.Weights) {
			delete(w, "model.layers.1.self_attn.v_proj.bias")
		}},
		{"qwen2_q4g32_tied_bias", "model.embed_tokens.scales", func(_ *modelfile.Config, w tensortest.Weights) {
			t := w["model.embed_tokens.scales"]
			t.Shape = []int{t.Shape[0], 3}
			w[t.Name] = t
		}},
		{"qwen3_q8g64_qknorm", "model.layers.1.self_attn.k_norm.weight", func(_ *modelfile.Config, w tensortest.Weights) {
			delete(w, "model.layers.1.self_attn.k_norm.weight")
		}},
		{"llama_f32_gqa", "key/value heads", func(c *modelfile.Config, _ tensortest.Weights) { c.NumKVHeads = 3 }},
		{"llama_f32_gqa", `"gemma"`, func(c *modelfile.Config, _ tensortest.Weights) { c.Architecture = "gemma" }},
		{"llama_f32_gqa", `"yarn"`, func(c *modelfile.Config, _ tensortest.Weights) {
			c.RopeScaling = &modelfile.RopeScaling{Type: "yarn", Factor: 4}
		}},
	})
}

func TestForward_RefusesBadInput(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	m := load(t, b, "llama_f32_gqa")
	c, err := m.NewCache(8)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := m.Forward([]int{1, 2, 3, 4, 5}, c); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward([]int{1, 2, 3, 4}, c); !errors.Is(err, llama.ErrContextFull) {
		t.Errorf("Forward past MaxLen = %v, want ErrContextFull", err)
	}
	for _, tokens := range [][]int{nil, {80}, {-1}} {
		if _, err := m.Forward(tokens, c); err == nil {
			t.Errorf("Forward(%v): no error", tokens)
		}
	}
	if c.Len() != 5 {
		t.Errorf("Len() = %d after refused input, want 5", c.Len())
	}
}

// TestForward_DecodeAllocatesNothing checks the hot path once warm: no
// heap allocation per decoded token on the CPU backend, on 8-bit
// activations (SIMD and portable kernels) and float32 ones.
func TestForward_DecodeAllocatesNothing(t *testing.T) {
	for _, o := range []cpu.Options{{Threads: 2, Activations: cpu.ActivationsQ8}, {Threads: 2, Activations: cpu.ActivationsQ8, Portable: true},
		{Threads: 2, Activations: cpu.ActivationsF32}} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) { testDecodeAllocatesNothing(t, cpu.NewWithOptions(o)) })
	}
}

func testDecodeAllocatesNothing(t *testing.T, b *cpu.Backend) {
	defer b.Close()
	for _, name := range []string{"llama_f32_gqa", "qwen2_q4g32_tied_bias", "qwen3_q8g64_qknorm", "llama_bf16_tied_llama3rope", "qwen2_f16_bias",
		"gemma3_bf16_softcap_linearrope", "gemma3_q4g32_tied_window", "phi3_q4g64_partial_longrope", "phi3_f32_partial_longrope_window", "smollm3_f32_nope"} {
		m := load(t, b, name)
		c, err := m.NewCache(0)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []int{1, 2, 3, 4} {
			if _, err := m.Forward([]int{tok}, c); err != nil {
				t.Fatal(err)
			}
		}
		tok := []int{7}
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := m.Forward(tok, c); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per decoded token, want 0", name, allocs)
		}
		c.Close()
	}
}

// TestForward_ConcurrentSequences decodes two sequences of one model from
// two goroutines; each must get the logits it gets alone.
func TestForward_ConcurrentSequences(t *testing.T) {
	b := cpu.NewThreads(2)
	defer b.Close()
	m := load(t, b, "qwen3_bf16_tied_qknorm")
	seqs := [][]int{{1, 2, 3, 4, 5, 6}, {9, 8, 7, 6, 5, 4}}
	alone := make([][]float32, 2)
	for i, s := range seqs {
		alone[i] = decodeAll(t, m, s)
	}
	var wg sync.WaitGroup
	for i, s := range seqs {
		wg.Go(func() {
			got := decodeAll(t, m, s)
			llamatest.CheckLogits(t, "concurrent", got, tensortest.F64(alone[i]))
		})
	}
	wg.Wait()
}

func decodeAll(t *testing.T, m *llama.Model, seq []int) []float32 {
	c, err := m.NewCache(16)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer c.Close()
	var logits []float32
	for _, tok := range seq {
		if logits, err = m.Forward([]int{tok}, c); err != nil {
			t.Error(err)
			return nil
		}
	}
	return append([]float32(nil), logits...)
}

// TestForward_LongPromptInChunks prefills more tokens than one backend
// step takes (256): the chunks must join up exactly as the reference.
func TestForward_LongPromptInChunks(t *testing.T) {
	b := exactCPU(2)
	defer b.Close()
	m, ref := loadExact(t, b, "qwen2_q4g32_tied_bias")
	cfg := m.Config()
	c, err := m.NewCache(320)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tokens := make([]int, 300)
	for i := range tokens {
		tokens[i] = (i*37 + 5) % cfg.VocabSize
	}
	got, err := m.Forward(tokens, c)
	if err != nil {
		t.Fatal(err)
	}
	want := ref.Logits(tokens)
	llamatest.CheckLogits(t, "300-token prefill", got, want[len(tokens)-1])
}

// TestCache_HalfPrecisionGrowing checks the KV cache contract the memory
// budget relies on: BF16 caches for BF16 models (dense, or quantized with
// BF16 scales) and F16 otherwise; no memory before the first token;
// memory that follows the positions stored at 2 bytes per value, never
// the whole maxLen reserved up front.
func TestCache_HalfPrecisionGrowing(t *testing.T) {
	b := cpu.NewThreads(2)
	defer b.Close()
	tests := []struct {
		spec string
		want modelfile.DType
	}{
		{"llama_f32_gqa", modelfile.F16},
		{"mistral_f16_mha", modelfile.F16},
		{"llama_bf16_tied_llama3rope", modelfile.BF16},
		{"qwen2_q4g32_tied_bias", modelfile.BF16},
		{"qwen3_q8g64_qknorm", modelfile.F16},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			m := load(t, b, tt.spec)
			if got := m.KVDType(); got != tt.want {
				t.Errorf("KVDType() = %s, want %s", got, tt.want)
			}
			const maxLen = 4000
			c, err := m.NewCache(maxLen)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cfg := m.Config()
			perPos := int64(2 * cfg.NumLayers * cfg.NumKVHeads * cfg.HeadDim * 2) // k and v, 2 bytes each
			if n := c.Bytes(); n != 0 {
				t.Errorf("Bytes() = %d before any token, want 0", n)
			}
			if _, err := m.Forward([]int{1, 2, 3, 4, 5, 6, 7}, c); err != nil {
				t.Fatal(err)
			}
			if n := c.Bytes(); n < 7*perPos || n > maxLen*perPos/4 {
				t.Errorf("Bytes() = %d after 7 tokens, want between %d (7 positions) and %d (a quarter of %d)", n, 7*perPos, maxLen*perPos/4, maxLen)
			}
		})
	}
}

// exactKV gives m float32 KV caches, for comparisons with the float64
// reference under LogitTol (half-precision caches are checked by the
// conformance suite under HalfKVTol).
func exactKV(t *testing.T, m *llama.Model) {
	t.Helper()
	if err := m.SetKVDType(modelfile.F32); err != nil {
		t.Fatal(err)
	}
}

// loadError is a tiny model (spec names one of llamatest.Specs) broken by
// edit, and what Load's error must name.
type loadError struct {
	spec, want string
	edit       func(c *modelfile.Config, w tensortest.Weights)
}

// testLoadErrors checks that Load refuses each broken model with an error
// that names the tensor or setting.
func testLoadErrors(t *testing.T, tests []loadError) {
	b := cpu.New()
	defer b.Close()
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			cfg, w := llamatest.Build(spec(t, tt.spec))
			tt.edit(&cfg, w)
			m, err := llama.Load(cfg, w, b)
			if err == nil {
				m.Close()
				t.Fatal("Load: no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error %q does not name %s", err, tt.want)
			}
		})
	}
}

// fileModel is a model written as its family's files are laid out
// (testmodel) and what modelfile must read from its config.
type fileModel struct {
	name  string
	spec  testmodel.Spec
	check func(c modelfile.Config) bool // nil: nothing beyond loading
}

// testModelFiles writes each model, opens it with modelfile (config
// parsing and tensor checks), loads it on the CPU backend and checks it
// against the reference past its sliding windows: the whole path a
// downloaded model takes.
func testModelFiles(t *testing.T, models []fileModel) {
	for _, tt := range models {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := testmodel.Write(dir, tt.spec); err != nil {
				t.Fatal(err)
			}
			mf, err := modelfile.Open(dir)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer mf.Close()
			if cfg := mf.Config(); tt.check != nil && !tt.check(cfg) {
				t.Errorf("config %+v", cfg)
			}
			b := exactCPU(2)
			defer b.Close()
			m, err := llama.Load(mf.Config(), mf, b)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer m.Close()
			exactKV(t, m)
			llamatest.CheckPrefillDecode(t, m, mf)
		})
	}
}

// TestCache_CopyPrefix copies the first positions of a cache that holds a
// prompt of two prefill chunks: the copy continues as a cache that
// forwarded only those positions would, the source continues as before
// (also after the copy has been written), and the copy outlives it.
func TestCache_CopyPrefix(t *testing.T) {
	b := exactCPU(2)
	defer b.Close()
	m, ref := loadExact(t, b, "qwen2_q4g32_tied_bias")
	cfg := m.Config()
	tokens := func(n, seed int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = (i*37 + seed) % cfg.VocabSize
		}
		return out
	}
	forward := func(what string, c *llama.Cache, add, all []int) {
		t.Helper()
		got, err := m.Forward(add, c)
		if err != nil {
			t.Fatal(err)
		}
		llamatest.CheckLogits(t, what, got, ref.Logits(all)[len(all)-1])
	}
	c, err := m.NewCache(400)
	if err != nil {
		t.Fatal(err)
	}
	prompt := tokens(300, 5)
	if _, err := m.Forward(prompt, c); err != nil {
		t.Fatal(err)
	}
	cp, err := c.CopyPrefix(200)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if cp.Len() != 200 || cp.MaxLen() != 400 || cp.Bytes() <= 0 || cp.Bytes() > c.Bytes() {
		t.Errorf("copy: %d positions of %d, %d bytes (source %d)", cp.Len(), cp.MaxLen(), cp.Bytes(), c.Bytes())
	}
	other := append(prompt[:200:200], tokens(20, 11)...)
	forward("the copy, continued", cp, other[200:], other)
	forward("the source, continued", c, []int{7}, append(prompt[:300:300], 7))
	for _, n := range []int{-1, 302} {
		if _, err := c.CopyPrefix(n); err == nil {
			t.Errorf("CopyPrefix(%d) of 301 positions: no error", n)
		}
	}
	c.Close()
	if _, err := c.CopyPrefix(0); err == nil {
		t.Error("CopyPrefix of a closed cache: no error")
	}
	forward("the copy, after the source closed", cp, []int{9}, append(other, 9))
}
