package engine

import (
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// The mixture-of-experts architectures (issue 16) answer a chat end to
// end from their files, like the dense ones, and reuse a prompt from the
// prefix cache.
func TestChat_MoEEndToEnd(t *testing.T) {
	const prompt = "Hello there, how are you today?"
	testChatFamilies(t, map[string]familyChat{
		"qwen3_moe": {testmodel.Spec{Architecture: "qwen3_moe", HeadDim: 32, Seed: 1, Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4}}, prompt, 8},
		"mixtral":   {testmodel.Spec{Architecture: "mixtral", Seed: 2}, prompt, 8},
		"gpt_oss": {testmodel.Spec{Architecture: "gpt_oss", SlidingWindow: 8, ExpertsMXFP4: true, Seed: 3,
			Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 8}}, prompt, 8},
	})
}
