package llamatest

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// LogitTol is the forward-pass tolerance: the largest absolute difference
// between a backend's logits and the float64 reference's must stay under
// LogitTol·(1 + max|reference logit|). float32 arithmetic through two
// layers lands near 1e-6 of that scale; 1e-4 leaves room for another
// backend's summation order.
const LogitTol = 1e-4

// prompt and continuation are the token sequence every test feeds.
var (
	prompt       = []int{1, 17, 42, 5, 79, 0, 33}
	continuation = []int{8, 64, 8, 21}
)

// ActivationRounding is implemented by backends that round activations
// to 8 bits for quantized matrix products by default, for speed (the CPU
// backend; see its SetExactActivations). The conformance suite checks
// them on exact activations under LogitTol, and on rounded ones under
// Q8LogitTol.
type ActivationRounding interface {
	SetExactActivations(exact bool)
}

// Q8LogitTol is LogitTol for backends that round the activations of
// quantized products to 8 bits per 32 values (llama.cpp's q8_0): each
// activation moves by up to half a step, 1/254 of its block's largest
// magnitude, so each product moves by up to 1/254 of Σ|w|·max|x| per
// block. Typically the error of a value is uniform in ±d/2 with d about
// 2.5/127 of the block's root mean square (the largest of 32 normal
// values is about 2.5 of it), so a product moves by about
// 2.5/(127·√12) ≈ 0.6% of its own scale; from the embedding to the logits
// a test model rounds about fifteen products' inputs, and their errors add
// in quadrature to 2–3%, on hidden states of random weights. Measured:
// at most 1.6e-2 of the logit scale on every Spec (qwen2 q4 g32, phi3
// q4 g64). A wrong scale, group or layout is off by whole units.
const Q8LogitTol = 4e-2

// RunConformance runs the forward-pass tests of every Spec on backends
// made by newBackend.
func RunConformance(t *testing.T, newBackend tensortest.NewBackend) {
	for _, s := range Specs {
		t.Run(s.Name, func(t *testing.T) {
			b := newBackend(t)
			defer b.Close()
			rounding, rounds := b.(ActivationRounding)
			if rounds {
				rounding.SetExactActivations(true)
			}
			cfg, w := Build(s)
			m, err := llama.Load(cfg, w, b)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer m.Close()
			half := m.KVDType()
			t.Run("HalfPrecisionKV", func(t *testing.T) { testHalfKV(t, m, w) })
			// The exact comparisons run on float32 caches: half-precision
			// rounding is checked above, under its own tolerance.
			if err := m.SetKVDType(modelfile.F32); err != nil {
				t.Fatal(err)
			}
			defer m.SetKVDType(half)
			want := NewReference(cfg, w).WithKV(modelfile.F32).Logits(append(slices.Clone(prompt), continuation...))
			t.Run("PrefillThenDecode", func(t *testing.T) { testPrefillDecode(t, m, want) })
			t.Run("ChunkedPrefill", func(t *testing.T) { testChunked(t, m, want) })
			t.Run("DecodeEqualsReprefill", func(t *testing.T) { testReprefill(t, m) })
			t.Run("Truncate", func(t *testing.T) { testTruncate(t, m, want) })
			t.Run("GreedyDeterministic", func(t *testing.T) { testGreedy(t, m, w) })
			if rounds {
				t.Run("Q8Activations", func(t *testing.T) {
					rounding.SetExactActivations(false)
					defer rounding.SetExactActivations(true)
					testQ8(t, m, want)
				})
			}
		})
	}
}

// testQ8 is PrefillThenDecode on rounded activations, under Q8LogitTol.
func testQ8(t *testing.T, m *llama.Model, want [][]float64) {
	c := newCache(t, m)
	check := func(what string, got []float32, want []float64) {
		t.Helper()
		checkLogitsWithin(t, what, got, want, Q8LogitTol)
	}
	check("prefill", forward(t, m, c, prompt), want[len(prompt)-1])
	for i, tok := range continuation {
		pos := len(prompt) + i
		check(name("decode at %d", pos), forward(t, m, c, []int{tok}), want[pos])
	}
}

// CheckLogits compares logits with the reference's under LogitTol and
// logs the observed error.
func CheckLogits(t testing.TB, what string, got []float32, want []float64) {
	t.Helper()
	checkLogitsWithin(t, what, got, want, LogitTol)
}

// checkLogitsWithin compares logits with the reference's: the largest
// difference may be tol of the logit scale (1 + the largest |logit|).
func checkLogitsWithin(t testing.TB, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d logits, want %d", what, len(got), len(want))
	}
	var worst, scale float64
	for i, g := range got {
		worst = max(worst, math.Abs(float64(g)-want[i]))
		scale = max(scale, math.Abs(want[i]))
	}
	if allow := tol * (1 + scale); !(worst <= allow) {
		t.Errorf("%s: max |logit diff| %.3g > %.3g (logit scale %.3g)", what, worst, allow, scale)
	}
	t.Logf("%s: max |logit diff| %.2g, %.2g of the logit scale", what, worst, worst/(1+scale))
}

// HalfKVTol is LogitTol for models whose KV caches store float16 or
// bfloat16, compared with a reference that rounds its keys and values to
// the same type: a backend's float32 key lying next to a rounding
// boundary can round to the neighbouring half-precision value, a change
// of one unit in the last place that moves the logits by up to a few
// 1e-4 of their scale (float16) or four times that (bfloat16). A cache
// holding wrong positions or values is off by whole units.
const HalfKVTol = 4e-3

// testHalfKV prefills and decodes on the model's own half-precision
// caches and compares with the reference rounding its keys and values to
// that type.
func testHalfKV(t *testing.T, m *llama.Model, w modelfile.Weights) {
	if d := m.KVDType(); d != modelfile.F16 && d != modelfile.BF16 {
		t.Fatalf("the model's KV caches store %s, want F16 or BF16", d)
	}
	all := append(slices.Clone(prompt), continuation...)
	want := NewReference(m.Config(), w).Logits(all)
	c := newCache(t, m)
	check := func(what string, got []float32, want []float64) {
		t.Helper()
		checkLogitsWithin(t, what, got, want, HalfKVTol)
	}
	check("prefill", forward(t, m, c, prompt), want[len(prompt)-1])
	for i, tok := range continuation {
		check(name("decode %d", i), forward(t, m, c, []int{tok}), want[len(prompt)+i])
	}
}

func newCache(t testing.TB, m *llama.Model) *llama.Cache {
	t.Helper()
	c, err := m.NewCache(0)
	if err != nil {
		t.Fatalf("NewCache: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func forward(t testing.TB, m *llama.Model, c *llama.Cache, tokens []int) []float32 {
	t.Helper()
	logits, err := m.Forward(tokens, c)
	if err != nil {
		t.Fatalf("Forward(%v): %v", tokens, err)
	}
	return logits
}

// CheckPrefillDecode is the conformance suite's PrefillThenDecode for
// one model already loaded, from model files say: m, which must store
// its keys and values as float32 (SetKVDType), against the reference on
// w, the prompt in one Forward and then the continuation a token at a
// time, past every Spec's sliding window.
func CheckPrefillDecode(t *testing.T, m *llama.Model, w modelfile.Weights) {
	t.Helper()
	want := NewReference(m.Config(), w).WithKV(modelfile.F32).Logits(append(slices.Clone(prompt), continuation...))
	testPrefillDecode(t, m, want)
}

// testPrefillDecode prefills the prompt, then decodes the continuation one
// token at a time; every step's logits must match the reference's.
func testPrefillDecode(t *testing.T, m *llama.Model, want [][]float64) {
	c := newCache(t, m)
	CheckLogits(t, "prefill", forward(t, m, c, prompt), want[len(prompt)-1])
	for i, tok := range continuation {
		pos := len(prompt) + i
		CheckLogits(t, name("decode at %d", pos), forward(t, m, c, []int{tok}), want[pos])
	}
	if c.Len() != len(prompt)+len(continuation) {
		t.Errorf("Len() = %d, want %d", c.Len(), len(prompt)+len(continuation))
	}
}

// testChunked prefills in two multi-token pieces: the second attends to
// cached positions and causally among its own.
func testChunked(t *testing.T, m *llama.Model, want [][]float64) {
	all := append(slices.Clone(prompt), continuation...)
	c := newCache(t, m)
	CheckLogits(t, "first chunk", forward(t, m, c, all[:4]), want[3])
	CheckLogits(t, "second chunk", forward(t, m, c, all[4:]), want[len(all)-1])
}

// testReprefill checks that decoding with the cache gives the logits of a
// fresh prefill of the whole sequence.
func testReprefill(t *testing.T, m *llama.Model) {
	c := newCache(t, m)
	forward(t, m, c, prompt)
	var decoded []float32
	for _, tok := range continuation {
		decoded = slices.Clone(forward(t, m, c, []int{tok}))
	}
	fresh := newCache(t, m)
	full := forward(t, m, fresh, append(slices.Clone(prompt), continuation...))
	CheckLogits(t, "decode vs re-prefill", decoded, tensortest.F64(full))
}

// testTruncate rolls the cache back and continues differently.
func testTruncate(t *testing.T, m *llama.Model, want [][]float64) {
	c := newCache(t, m)
	forward(t, m, c, []int{9, 9, 9, 9, 9, 9, 9, 9, 9})
	if err := c.Truncate(0); err != nil {
		t.Fatal(err)
	}
	forward(t, m, c, prompt[:5])
	if err := c.Truncate(3); err != nil {
		t.Fatal(err)
	}
	CheckLogits(t, "after truncate", forward(t, m, c, prompt[3:]), want[len(prompt)-1])
	if err := c.Truncate(c.Len() + 1); err == nil {
		t.Error("Truncate past Len: no error")
	}
}

// testGreedy decodes greedily twice and with the reference: the same
// tokens every time (steps where the reference's top two logits are
// closer than the tolerance are not compared with it).
func testGreedy(t *testing.T, m *llama.Model, w modelfile.Weights) {
	run := func() []int {
		c := newCache(t, m)
		seq := slices.Clone(prompt)
		logits := forward(t, m, c, prompt)
		for range 8 {
			tok := argmax(tensortest.F64(logits))
			seq = append(seq, tok)
			logits = forward(t, m, c, []int{tok})
		}
		return seq[len(prompt):]
	}
	first, second := run(), run()
	if !slices.Equal(first, second) {
		t.Fatalf("greedy decoding differs between runs: %v, %v", first, second)
	}
	ref := NewReference(m.Config(), w).WithKV(m.KVDType())
	seq := slices.Clone(prompt)
	for i, tok := range first {
		logits := ref.Logits(seq)
		last := logits[len(logits)-1]
		if want := argmax(last); want != tok && margin(last) > 2*LogitTol*(1+maxAbs(last)) {
			t.Fatalf("greedy token %d = %d, reference %d (tokens %v)", i, tok, want, first)
		}
		seq = append(seq, tok)
	}
	t.Logf("greedy tokens %v", first)
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// margin is the gap between the largest and second largest value.
func margin(v []float64) float64 {
	top := v[argmax(v)]
	second := math.Inf(-1)
	for i, x := range v {
		if i != argmax(v) {
			second = max(second, x)
		}
	}
	return top - second
}

func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

func name(format string, args ...any) string { return fmt.Sprintf(format, args...) }
