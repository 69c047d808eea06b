package grammar_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/engine/grammar"
	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/llama/llamatest"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
)

// syntheticVocab is a vocabulary of Qwen 2.5's size (151,936 tokens) with
// a byte-level BPE's mix: the 256 bytes, words with and without a leading
// space, punctuation and code runs, digits, whitespace runs and CJK.
func syntheticVocab(size int) *grammar.Vocab {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	toks := make([][]byte, 0, size)
	for b := range 256 {
		toks = append(toks, []byte{byte(b)})
		seen[string(rune(b))] = true
	}
	const letters = "etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLC"
	const punct = `{}[]":,.;()<>=+-*/_!?'#&|\`
	cjk := []rune("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话")
	for len(toks) < size {
		var t []byte
		switch r := rng.IntN(100); {
		case r < 60:
			if rng.IntN(2) == 0 {
				t = append(t, ' ')
			}
			for range 2 + rng.IntN(9) {
				t = append(t, letters[rng.IntN(len(letters))])
			}
		case r < 75:
			for range 1 + rng.IntN(4) {
				t = append(t, punct[rng.IntN(len(punct))])
			}
		case r < 82:
			for range 1 + rng.IntN(3) {
				t = append(t, byte('0'+rng.IntN(10)))
			}
		case r < 87:
			t = append(t, '\n')
			for range rng.IntN(12) {
				t = append(t, ' ')
			}
		default:
			for range 1 + rng.IntN(3) {
				t = append(t, string(cjk[rng.IntN(len(cjk))])...)
			}
		}
		if !seen[string(t)] {
			seen[string(t)] = true
			toks = append(toks, t)
		}
	}
	return grammar.NewVocab(size, func(id int) []byte { return toks[id] })
}

// BenchmarkMask is the cost of one step's mask over a 151,936-token
// vocabulary in three states (choosing a key, inside a free string — the
// worst case: nearly every token continues it —, inside a number), next
// to a decode step of a Qwen2.5-0.5B-shaped model measured in the same
// run (mask-%-of-decode).
func BenchmarkMask(b *testing.B) {
	cfg := llamatest.Qwen25_05B()
	w, _ := llamatest.RandomQuantized(cfg, 1)
	be := cpu.New()
	defer be.Close()
	m, err := llama.Load(cfg, w, be)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	c, err := m.NewCache(256)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := m.Forward([]int{1, 2, 3, 4, 5, 6, 7, 8}, c); err != nil {
		b.Fatal(err)
	}
	const steps = 8
	t0 := time.Now()
	for i := range steps {
		if _, err := m.Forward([]int{100 + i}, c); err != nil {
			b.Fatal(err)
		}
	}
	decode := time.Since(t0) / steps

	v := syntheticVocab(cfg.VocabSize)
	g, err := grammar.Compile(json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
		"tags":{"type":"array","items":{"type":"string"}}},"required":["name","age","tags"],"additionalProperties":false}`))
	if err != nil {
		b.Fatal(err)
	}
	logits := make([]float32, cfg.VocabSize)
	for _, st := range []struct{ name, prefix string }{
		{"key", `{"`},
		{"string", `{"name": "Ada Lovelace, b`},
		{"number", `{"name": "Ada", "age": 3`},
	} {
		b.Run(st.name, func(b *testing.B) {
			con := grammar.NewConstraint(g, v, []int{0})
			if !con.Feed([]byte(st.prefix)) {
				b.Fatal("prefix rejected")
			}
			for b.Loop() {
				con.Mask(logits, 1000)
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(decode.Microseconds())/1000, "decode-ms")
			b.ReportMetric(100*float64(per)/float64(decode), "mask-%-of-decode")
		})
	}
}

// BenchmarkNewVocab is the one-time cost, per loaded model, of the tries
// of a 151,936-token vocabulary (paid by its first structured request).
func BenchmarkNewVocab(b *testing.B) {
	for b.Loop() {
		syntheticVocab(151936)
	}
}
