package engine

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// BenchmarkPrefix_SecondTurn is an agent's second turn up to its first
// logits: a 2,000-token first turn, then the same tokens with 232 more (an
// answer and a new message). "reuse" takes the first turn's cache from the
// prefix cache and forwards the 232; "cold" prefills all 2,232 on a new
// cache, as every turn did before the prefix cache. The ratio of the two
// is what the prefix cache saves (`modelbar bench agent` measures it
// through the whole engine, chat template and tokenizer included).
func BenchmarkPrefix_SecondTurn(b *testing.B) {
	spec := testmodel.Spec{Architecture: "qwen2", HiddenSize: 256, IntermediateSize: 768, NumLayers: 4, NumHeads: 4, NumKVHeads: 2,
		MaxPositionEmbeddings: 4096, TieWordEmbeddings: true, Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 4}}
	e := newEngine(b, 1<<40, map[string]testmodel.Spec{"small": spec})
	m, release, err := e.pool.Acquire(context.Background(), "test/small")
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	l := m.(*loaded)
	rng := rand.New(rand.NewPCG(3, 4))
	turn2 := make([]int, 2232)
	for i := range turn2 {
		turn2[i] = rng.IntN(l.tok.VocabSize())
	}
	turn1 := turn2[:2000]
	forward := func(prompt []int) {
		seq, cached, err := l.prefix.take(prompt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := seq.Forward(context.Background(), prompt[cached:]); err != nil {
			b.Fatal(err)
		}
		l.prefix.put(seq, true)
	}
	b.Run("reuse", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			forward(turn1) // the cache holds the first turn again (it shares all of it)
			b.StartTimer()
			forward(turn2)
		}
	})
	b.Run("cold", func(b *testing.B) {
		for range b.N {
			c, err := l.model.NewCache(0)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.model.ForwardContext(context.Background(), turn2, c); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}
