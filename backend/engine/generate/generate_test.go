package generate

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// scripted is a model whose next token is fixed per step: each Forward
// returns logits peaked on the next scripted id.
type scripted struct {
	vocab, ctxLen int
	next          []int
	step          int
	inputs        [][]int
}

func (m *scripted) ContextLength() int { return m.ctxLen }

func (m *scripted) Forward(_ context.Context, tokens []int) ([]float32, error) {
	m.inputs = append(m.inputs, slices.Clone(tokens))
	logits := make([]float32, m.vocab)
	if m.step < len(m.next) {
		logits[m.next[m.step]] = 10
	}
	m.step++
	return logits, nil
}

// pieces detokenizes ids by a table.
type pieces map[int]string

func (p pieces) Add(id int) string { return p[id] }
func (p pieces) Flush() string     { return "" }

func collect(t *testing.T, m Model, d Detokenizer, req Request) (string, Result, error) {
	t.Helper()
	var out []string
	res, err := Run(context.Background(), m, d, 100, req, func(s string) error {
		out = append(out, s)
		return nil
	})
	return strings.Join(out, ""), res, err
}

func TestRun_StopsAtTokenLengthAndSequence(t *testing.T) {
	words := pieces{1: "Hel", 2: "lo", 3: " ST", 4: "OP", 5: " after", 9: "<eos>"}
	tests := []struct {
		name    string
		next    []int
		req     Request
		want    string
		wantRes Result
		ctxLen  int
	}{
		{"stop token", []int{1, 2, 9, 5}, Request{Prompt: []int{7}, StopTokens: []int{9}}, "Hello",
			Result{Finish: FinishStop, PromptTokens: 1, CompletionTokens: 2}, 100},
		{"max tokens", []int{1, 2, 5, 5}, Request{Prompt: []int{7}, MaxTokens: 3}, "Hello after",
			Result{Finish: FinishLength, PromptTokens: 1, CompletionTokens: 3}, 100},
		{"stop sequence across tokens", []int{1, 2, 3, 4, 5}, Request{Prompt: []int{7}, Stop: []string{"STOP"}}, "Hello ",
			Result{Finish: FinishStopSequence, StopSequence: "STOP", PromptTokens: 1, CompletionTokens: 4}, 100},
		{"held prefix released at the end", []int{1, 3}, Request{Prompt: []int{7}, Stop: []string{"STOP"}, MaxTokens: 2}, "Hel ST",
			Result{Finish: FinishLength, PromptTokens: 1, CompletionTokens: 2}, 100},
		{"earliest of two sequences", []int{1, 2, 3, 4}, Request{Prompt: []int{7}, Stop: []string{"STOP", "lo"}}, "Hel",
			Result{Finish: FinishStopSequence, StopSequence: "lo", PromptTokens: 1, CompletionTokens: 2}, 100},
		{"context full", []int{1, 2, 5, 5, 5}, Request{Prompt: []int{7, 7}}, "Hello",
			Result{Finish: FinishLength, PromptTokens: 2, CompletionTokens: 2}, 4},
	}
	for _, tt := range tests {
		m := &scripted{vocab: 100, ctxLen: tt.ctxLen, next: tt.next}
		got, res, err := collect(t, m, words, tt.req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s: text %q, want %q", tt.name, got, tt.want)
		}
		if diff := cmp.Diff(tt.wantRes, res); diff != "" {
			t.Errorf("%s: result (-want +got):\n%s", tt.name, diff)
		}
	}
}

// The model is fed the prompt once, then one token at a time.
func TestRun_FeedsPromptThenEachToken(t *testing.T) {
	m := &scripted{vocab: 100, ctxLen: 100, next: []int{1, 2, 9}}
	if _, _, err := collect(t, m, pieces{1: "a", 2: "b"}, Request{Prompt: []int{5, 6, 7}, StopTokens: []int{9}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]int{{5, 6, 7}, {1}, {2}}, m.inputs); diff != "" {
		t.Errorf("inputs (-want +got):\n%s", diff)
	}
}

// A prompt whose first tokens the model already holds is forwarded from
// the first one it does not; the result says how many were reused, and a
// count that would leave nothing to forward is refused.
func TestRun_ForwardsOnlyWhatIsNotCached(t *testing.T) {
	m := &scripted{vocab: 100, ctxLen: 100, next: []int{1, 9}}
	_, res, err := collect(t, m, pieces{1: "a"}, Request{Prompt: []int{5, 6, 7, 8}, Cached: 2, StopTokens: []int{9}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]int{{7, 8}, {1}}, m.inputs); diff != "" {
		t.Errorf("inputs (-want +got):\n%s", diff)
	}
	if res.PromptTokens != 4 || res.CachedTokens != 2 {
		t.Errorf("result %+v, want 4 prompt tokens of which 2 cached", res)
	}
	for _, cached := range []int{-1, 4, 5} {
		if _, _, err := collect(t, &scripted{vocab: 100, ctxLen: 100}, pieces{}, Request{Prompt: []int{5, 6, 7, 8}, Cached: cached}); err == nil {
			t.Errorf("Cached %d of 4 tokens: no error", cached)
		}
	}
}

func TestRun_PromptTooLong(t *testing.T) {
	_, _, err := collect(t, &scripted{vocab: 10, ctxLen: 3}, pieces{}, Request{Prompt: []int{1, 2, 3}})
	if !errors.Is(err, ErrPromptTooLong) {
		t.Errorf("error %v, want ErrPromptTooLong", err)
	}
}

// A client that goes away stops generation before the next token.
func TestRun_StopsWhenCancelled(t *testing.T) {
	m := &scripted{vocab: 100, ctxLen: 1000, next: slices.Repeat([]int{1}, 500)}
	ctx, cancel := context.WithCancel(context.Background())
	emitted := 0
	_, err := Run(ctx, m, pieces{1: "x"}, 100, Request{Prompt: []int{2}}, func(string) error {
		emitted++
		if emitted == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if m.step != 3 {
		t.Errorf("%d forward passes after cancelling at the third token, want 3", m.step)
	}
}

// flat is a model with the same logits at every step.
type flat struct{ logits []float32 }

func (f flat) ContextLength() int { return 1 << 20 }
func (f flat) Forward(context.Context, []int) ([]float32, error) {
	return slices.Clone(f.logits), nil
}

func sampleIDs(t *testing.T, logits []float32, s Sampling, prompt []int, n int) []int {
	t.Helper()
	var ids []int
	d := recorder{ids: &ids}
	if _, err := Run(context.Background(), flat{logits}, d, len(logits), Request{Prompt: prompt, MaxTokens: n, Sampling: s}, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return ids
}

type recorder struct{ ids *[]int }

func (r recorder) Add(id int) string { *r.ids = append(*r.ids, id); return "" }
func (r recorder) Flush() string     { return "" }

func seed(v uint64) *uint64 { return &v }

func TestSampling(t *testing.T) {
	uniform := make([]float32, 1000)
	peaked := []float32{1, 3, 2.9, 0}
	t.Run("same seed, same tokens; another seed, others", func(t *testing.T) {
		a := sampleIDs(t, uniform, Sampling{Temperature: 1, Seed: seed(42)}, []int{0}, 30)
		b := sampleIDs(t, uniform, Sampling{Temperature: 1, Seed: seed(42)}, []int{0}, 30)
		c := sampleIDs(t, uniform, Sampling{Temperature: 1, Seed: seed(43)}, []int{0}, 30)
		if !slices.Equal(a, b) || slices.Equal(a, c) {
			t.Errorf("a=%v\nb=%v\nc=%v", a, b, c)
		}
	})
	t.Run("greedy", func(t *testing.T) {
		for _, id := range sampleIDs(t, peaked, Sampling{}, []int{0}, 10) {
			if id != 1 {
				t.Fatalf("greedy picked %d", id)
			}
		}
	})
	t.Run("top-k 2 keeps the two best", func(t *testing.T) {
		for _, id := range sampleIDs(t, peaked, Sampling{Temperature: 5, TopK: 2, Seed: seed(1)}, []int{0}, 200) {
			if id != 1 && id != 2 {
				t.Fatalf("top-k 2 picked %d", id)
			}
		}
	})
	t.Run("top-p small is greedy", func(t *testing.T) {
		for _, id := range sampleIDs(t, peaked, Sampling{Temperature: 1, TopP: 0.01, Seed: seed(2)}, []int{0}, 50) {
			if id != 1 {
				t.Fatalf("top-p 0.01 picked %d", id)
			}
		}
	})
	t.Run("min-p drops the unlikely", func(t *testing.T) {
		seen := map[int]bool{}
		for _, id := range sampleIDs(t, peaked, Sampling{Temperature: 1, MinP: 0.5, Seed: seed(3)}, []int{0}, 300) {
			seen[id] = true
		}
		if seen[0] || seen[3] || !seen[1] || !seen[2] {
			t.Errorf("min-p 0.5 picked %v, want only 1 and 2", seen)
		}
	})
	t.Run("repetition penalty", func(t *testing.T) {
		// Token 1 leads by a little; it is in the prompt, so a penalty of 2
		// halves its logit and token 2 wins.
		if id := sampleIDs(t, peaked, Sampling{RepetitionPenalty: 2}, []int{1}, 1)[0]; id != 2 {
			t.Errorf("picked %d, want 2", id)
		}
		if id := sampleIDs(t, peaked, Sampling{}, []int{1}, 1)[0]; id != 1 {
			t.Errorf("without a penalty picked %d, want 1", id)
		}
	})
	t.Run("temperature follows the distribution", func(t *testing.T) {
		counts := map[int]int{}
		for _, id := range sampleIDs(t, []float32{0, float32(math.Log(3))}, Sampling{Temperature: 1, Seed: seed(9)}, []int{0}, 4000) {
			counts[id]++
		}
		// p(1) = 3/4: 3000 expected, 4 standard deviations is ±110.
		if c := counts[1]; c < 2890 || c > 3110 {
			t.Errorf("token 1 drawn %d of 4000 times, want about 3000", c)
		}
	})
}

func BenchmarkSample_LargeVocab(b *testing.B) {
	logits := make([]float32, 151936)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i))) * 8
	}
	for _, s := range []Sampling{{}, {Temperature: 0.7, Seed: seed(1)}, {Temperature: 0.7, TopK: 40, TopP: 0.9, Seed: seed(1)}} {
		b.Run(map[bool]string{true: "greedy", false: "sampled"}[s.Temperature == 0]+map[bool]string{true: "+topk+topp", false: ""}[s.TopK > 0], func(b *testing.B) {
			sm := newSampler(s, len(logits), nil)
			work := make([]float32, len(logits))
			b.ReportAllocs()
			for b.Loop() {
				copy(work, logits)
				sm.pick(work)
			}
		})
	}
}

func TestSelectTop_KeepsTheKBest(t *testing.T) {
	for _, n := range []int{1, 2, 10, 1000} {
		for _, k := range []int{1, n / 2, n} {
			if k == 0 {
				continue
			}
			c := make([]cand, n)
			for i := range c {
				c[i] = cand{id: i, p: float64((i * 7919) % 101)}
			}
			want := slices.Clone(c)
			slices.SortFunc(want, func(a, b cand) int {
				switch {
				case a.p > b.p:
					return -1
				case a.p < b.p:
					return 1
				}
				return 0
			})
			selectTop(c, k)
			minTop := c[0].p
			for _, x := range c[:k] {
				minTop = min(minTop, x.p)
			}
			if minTop != want[k-1].p {
				t.Errorf("n=%d k=%d: the k-th best is %v, want %v", n, k, minTop, want[k-1].p)
			}
		}
	}
}
