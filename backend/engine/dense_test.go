package engine

import (
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// Added for gemma3, phi3 and smollm3 (issue 16, dense): models of these
// families, written as their files are (a nested gemma3 with vision
// tensors, phi3's fused projections), are discovered, loaded and answer
// a chat past their sliding windows.
func TestChat_DenseFamilies(t *testing.T) {
	q4 := &modelfile.Quantization{GroupSize: 32, Bits: 4}
	const prompt = "Hello there, how long is a sliding window?"
	testChatFamilies(t, map[string]familyChat{
		"gemma3":  {testmodel.Spec{Architecture: "gemma3", Seed: 1, Quantization: q4, SlidingWindow: 4, FinalLogitSoftcapping: 30}, prompt, 6},
		"phi3":    {testmodel.Spec{Architecture: "phi3", Seed: 2, PartialRotaryFactor: 0.75, SlidingWindow: 6}, prompt, 6},
		"smollm3": {testmodel.Spec{Architecture: "smollm3", Seed: 3, NumLayers: 4}, prompt, 6},
	})
}
