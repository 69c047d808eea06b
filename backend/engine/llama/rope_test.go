package llama_test

import (
	"math"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/llama/llamatest"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// TestRopeFrequencies_MatchTransformers compares the inverse frequencies,
// computed as mlx-lm does (periods), with transformers' formulation
// (frequencies) for real configurations, to 1e-12 relative.
func TestRopeFrequencies_MatchTransformers(t *testing.T) {
	llama32 := &modelfile.RopeScaling{Type: "llama3", Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}
	llama31 := &modelfile.RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}
	for _, c := range []modelfile.Config{
		{HeadDim: 64, RopeTheta: 500000, RopeScaling: llama32},  // Llama 3.2 1B
		{HeadDim: 128, RopeTheta: 500000, RopeScaling: llama31}, // Llama 3.1 8B
		{HeadDim: 64, RopeTheta: 1e6},                           // Qwen2.5
		{HeadDim: 128, RopeTheta: 10000},                        // Llama 2, Mistral
	} {
		got, err := llama.RopeFrequencies(c.HeadDim, c.RopeTheta, c.RopeScaling)
		if err != nil {
			t.Fatal(err)
		}
		want := llamatest.InvFreq(c)
		scaled := 0
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12*want[i] {
				t.Errorf("head %d theta %g: invFreq[%d] = %g, want %g", c.HeadDim, c.RopeTheta, i, got[i], want[i])
			}
			if base := math.Pow(c.RopeTheta, -float64(2*i)/float64(c.HeadDim)); math.Abs(got[i]-base) > 1e-12*base {
				scaled++
			}
		}
		if c.RopeScaling != nil && scaled == 0 {
			t.Errorf("head %d: llama3 scaling changed no frequency", c.HeadDim)
		}
	}
}

func TestRopeFrequencies_LinearAndDefaults(t *testing.T) {
	base, _ := llama.RopeFrequencies(8, 10000, nil)
	lin, err := llama.RopeFrequencies(8, 10000, &modelfile.RopeScaling{Type: "linear", Factor: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range base {
		if math.Abs(lin[i]*4-base[i]) > 1e-15 {
			t.Errorf("linear invFreq[%d] = %g, want %g", i, lin[i], base[i]/4)
		}
	}
	explicit, _ := llama.RopeFrequencies(64, 500000, &modelfile.RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192})
	defaulted, _ := llama.RopeFrequencies(64, 500000, &modelfile.RopeScaling{Type: "llama3", Factor: 8})
	for i := range explicit {
		if explicit[i] != defaulted[i] {
			t.Errorf("llama3 defaults: invFreq[%d] = %g, want %g", i, defaulted[i], explicit[i])
		}
	}
}
