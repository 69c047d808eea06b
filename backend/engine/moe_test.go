package engine

import (
	"reflect"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/protocol"
)

// The mixture-of-experts architectures (issue 16) answer a chat end to
// end from their files, like the dense ones.
func TestChat_MoEEndToEnd(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{
		"qwen3_moe": {Architecture: "qwen3_moe", HeadDim: 32, Seed: 1, Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4}},
		"mixtral":   {Architecture: "mixtral", Seed: 2},
		"gpt_oss": {Architecture: "gpt_oss", SlidingWindow: 8, ExpertsMXFP4: true, Seed: 3,
			Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 8}},
	})
	for _, name := range []string{"test/qwen3_moe", "test/mixtral", "test/gpt_oss"} {
		t.Run(name, func(t *testing.T) {
			evs, err := chat(t, e, userSays(name, "Hello there, how are you today?", 10))
			if err != nil {
				t.Fatal(err)
			}
			res, err := protocol.Aggregate(evs)
			if err != nil {
				t.Fatal(err)
			}
			if res.Usage.InputTokens <= 8 || res.Usage.OutputTokens == 0 || res.Usage.OutputTokens > 10 {
				t.Errorf("usage %+v", res.Usage)
			}
			again, err := chat(t, e, userSays(name, "Hello there, how are you today?", 10))
			if err != nil {
				t.Fatal(err)
			}
			// The second run reuses the first's prompt from the prefix cache:
			// the same answer, its prompt counted as cached.
			res2, _ := protocol.Aggregate(again)
			if !reflect.DeepEqual(res2.Content, res.Content) || res2.Usage.OutputTokens != res.Usage.OutputTokens {
				t.Errorf("greedy decoding differs between runs: %+v vs %+v", res, res2)
			}
			if u := res2.Usage; u.InputTokens+u.CacheReadTokens != res.Usage.InputTokens || u.CacheReadTokens == 0 {
				t.Errorf("second run's usage %+v, want the first's %d input tokens, most of them cached", u, res.Usage.InputTokens)
			}
		})
	}
}
