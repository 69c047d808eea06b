package engine

import (
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/protocol"
)

// Added for gemma3, phi3 and smollm3 (issue 16, dense): models of these
// families, written as their files are (a nested gemma3 with vision
// tensors, phi3's fused projections), are discovered, loaded and answer
// a chat past their sliding windows.
func TestChat_DenseFamilies(t *testing.T) {
	q4 := &modelfile.Quantization{GroupSize: 32, Bits: 4}
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{
		"gemma3":  {Architecture: "gemma3", Seed: 1, Quantization: q4, SlidingWindow: 4, FinalLogitSoftcapping: 30},
		"phi3":    {Architecture: "phi3", Seed: 2, PartialRotaryFactor: 0.75, SlidingWindow: 6},
		"smollm3": {Architecture: "smollm3", Seed: 3, NumLayers: 4},
	})
	for _, name := range []string{"test/gemma3", "test/phi3", "test/smollm3"} {
		t.Run(name, func(t *testing.T) {
			evs, err := chat(t, e, userSays(name, "Hello there, how long is a sliding window?", 10))
			if err != nil {
				t.Fatal(err)
			}
			res, err := protocol.Aggregate(evs)
			if err != nil {
				t.Fatal(err)
			}
			if res.Usage.InputTokens <= 6 || res.Usage.OutputTokens == 0 {
				t.Errorf("usage %+v: want a prompt past the windows and some output", res.Usage)
			}
		})
	}
}
