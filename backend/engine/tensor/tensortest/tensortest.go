// Package tensortest holds the conformance tests every tensor.Backend
// must pass, written once against the interface: the CPU backend runs
// them, and so will the MLX backend. Each operation is checked against a
// naive reference written here, in float64, from the formula; the
// tolerances, stated per test, are those of float32 arithmetic. It also
// makes test weights in memory: F32/F16/BF16 encodings and MLX affine
// quantization.
package tensortest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// NewBackend makes a fresh backend for one test; the suite closes it.
type NewBackend func(t testing.TB) tensor.Backend

// RunConformance runs every operation and contract test on backends made
// by newBackend.
func RunConformance(t *testing.T, newBackend NewBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b tensor.Backend)
	}{
		{"MatMul_Dense", testMatMulDense},
		{"MatMul_Quantized", testMatMulQuantized},
		{"MatMul_QuantizedEqualsDequantized", testQuantizedEqualsDequantized},
		{"MatMuls", testMatMuls}, // Added for fused projections (issue 18).
		{"Embed_Dense", testEmbedDense},
		{"Embed_Quantized", testEmbedQuantized},
		{"Embed_HalfSpecialValues", testEmbedHalfSpecials},
		{"AddBias", testAddBias},
		{"RMSNorm", testRMSNorm},
		{"Rope", testRope},
		{"Attention_Causal", testAttentionCausal},
		{"Attention_Rollback", testAttentionRollback},
		{"Attention_Window", testAttentionWindow},
		{"Attention_WindowRollback", testAttentionWindowRollback},
		{"Attention_Sinks", testAttentionSinks},
		{"KVCache_Growth", testKVCacheGrowth},
		{"Softmax", testSoftmax},
		{"SiLU_Mul_Add", testElementwise},
		{"Argmax", testArgmax},
		{"Views_ReshapeSlice", testViews},
		{"Release_ViewsOutliveParent", testReleaseViews},
		{"Errors_Recorded", testErrorsRecorded},
		{"Errors_Load", testLoadErrors},
		{"Run_Concurrent", testRunConcurrent},
		// Added for gemma3 (issue 16).
		{"Scale_Tanh", testScaleTanh},
		{"GELUTanh", testGELUTanh},
		{"RopePartial", testRopePartial},
		{"RopePartial_Errors", testRopePartialErrors},
		// Added for mixture-of-experts (issue 16).
		{"MoE", testMoE},
		{"MoE_Errors", testMoEErrors},
		{"MXFP4_MatMulEmbed", testMXFP4Matrix},
		// Added for the prefix cache's copies.
		{"KVCache_Copy", testKVCacheCopy},
		{"KVCache_CopyErrors", testKVCacheCopyErrors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t)
			defer func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tt.fn(t, b)
		})
	}
}

// run calls fn inside b.Run and fails the test on an error.
func run(t testing.TB, b tensor.Backend, fn func() error) {
	t.Helper()
	if err := b.Run(fn); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// read evaluates x and returns its values.
func read(b tensor.Backend, x tensor.Array) ([]float32, error) {
	r, c := x.Shape()
	out := make([]float32, r*c)
	return out, b.Read(x, out)
}

// load loads a dense tensor, failing the test on an error.
func load(t testing.TB, b tensor.Backend, tt modelfile.Tensor) tensor.Weight {
	t.Helper()
	var w tensor.Weight
	run(t, b, func() (err error) {
		w, err = b.LoadDense(tt)
		return err
	})
	return w
}

// free frees resources inside a Run.
func free(t testing.TB, b tensor.Backend, rs ...tensor.Resource) {
	t.Helper()
	run(t, b, func() error {
		for _, r := range rs {
			r.Free()
		}
		return nil
	})
}

// within checks |got−want| ≤ rel·scale + abs element by element, where
// scale is the element's own magnitude bound (|want| when scale is nil),
// and logs the worst ratio of error to allowance.
func within(t testing.TB, what string, got []float32, want, scale []float64, rel, abs float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, bad := 0.0, 0
	for i, g := range got {
		s := math.Abs(want[i])
		if scale != nil {
			s = scale[i]
		}
		allow := rel*s + abs
		diff := math.Abs(float64(g) - want[i])
		if !(diff <= allow) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v (|diff| %.3g > %.3g)", what, i, g, want[i], diff, allow)
			}
			bad++
		}
		if diff > 0 {
			worst = max(worst, diff/allow) // +Inf when nothing was allowed
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values outside tolerance", what, bad, len(got))
	}
	t.Logf("%s: worst error %.3f of the tolerance (rel %.0e, abs %.0e)", what, worst, rel, abs)
}

// NewRand is a seeded generator, so every failure reproduces.
func NewRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// F64 converts float32 values to float64.
func F64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func name(format string, args ...any) string { return fmt.Sprintf(format, args...) }
