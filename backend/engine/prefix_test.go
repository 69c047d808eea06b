package engine

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tensor/mlx"
	"github.com/modelbar/modelbar/backend/protocol"
)

// acquire loads a model of e and returns it, released at the end of the
// test.
func acquire(t *testing.T, e *Engine, name string) *loaded {
	t.Helper()
	m, release, err := e.pool.Acquire(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return m.(*loaded)
}

// greedy is one request as the engine runs it, with the logits of every
// step: the prompt after what seq holds, then n greedy tokens, each but
// the last forwarded (generate.Run's order).
func greedy(t *testing.T, seq *sequence, prompt []int, cached, n int) ([]int, [][]float32) {
	t.Helper()
	logits, err := seq.Forward(context.Background(), prompt[cached:])
	if err != nil {
		t.Fatal(err)
	}
	var toks []int
	var steps [][]float32
	for i := range n {
		steps = append(steps, slices.Clone(logits))
		toks = append(toks, argmax(logits))
		if i < n-1 {
			if logits, err = seq.Forward(context.Background(), toks[i:i+1]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return toks, steps
}

// reference runs prompt on a new cache: no reuse.
func reference(t *testing.T, l *loaded, prompt []int, n int) ([]int, [][]float32) {
	t.Helper()
	c, err := l.model.NewCache(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return greedy(t, &sequence{p: newPrefixes(l.model, 0), cache: c}, prompt, 0, n)
}

func argmax(xs []float32) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

// A request that reuses a cached prefix computes what it would from
// scratch: the same greedy tokens, and the same logits to within float32
// rounding (the reused part is not recomputed, but the rows forwarded
// after it go through kernels chosen by row count — a one-row decode
// kernel for a prompt whose only new token is its last — so bit equality
// is not the contract; the reference tolerance is).
func TestPrefix_ReuseIsExact(t *testing.T) {
	for _, b := range backends(t) {
		for name, spec := range map[string]testmodel.Spec{
			"llama": {Seed: 1},
			"qwen3": {Architecture: "qwen3", Seed: 2, Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4}},
		} {
			t.Run(b.Name()+"/"+name, func(t *testing.T) { testReuseIsExact(t, b, name, spec) })
		}
	}
}

// backends are the tensor backends to test on: the CPU backend, and MLX
// when its library loads (MODELBAR_MLX_LIB).
func backends(t *testing.T) []tensor.Backend {
	out := []tensor.Backend{cpu.New()}
	if lib, err := mlx.Open(); err != nil {
		t.Logf("mlx not tested: %v", err)
	} else if b, err := mlx.NewBackend(lib, mlx.Options{Device: "cpu"}); err != nil {
		t.Errorf("mlx: %v", err)
	} else {
		out = append(out, b)
	}
	t.Cleanup(func() {
		for _, b := range out {
			b.Close()
		}
	})
	return out
}

func testReuseIsExact(t *testing.T, b tensor.Backend, name string, spec testmodel.Spec) {
	e := newEngineOn(t, b, 1<<30, map[string]testmodel.Spec{name: spec})
	l := acquire(t, e, "test/"+name)
	rng := rand.New(rand.NewPCG(1, 2))
	words := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = rng.IntN(l.tok.VocabSize())
		}
		return out
	}
	const n = 8
	var held []int // what the conversation's cache holds after each turn
	turn := func(what string, prompt []int, wantCached int) {
		t.Helper()
		seq, cached, err := l.prefix.take(prompt)
		if err != nil {
			t.Fatal(err)
		}
		if cached != wantCached {
			t.Errorf("%s: %d tokens reused, want %d", what, cached, wantCached)
		}
		toks, steps := greedy(t, seq, prompt, cached, n)
		wantToks, wantSteps := reference(t, l, prompt, n)
		if !slices.Equal(toks, wantToks) {
			t.Errorf("%s: tokens %v with reuse, %v without", what, toks, wantToks)
		}
		for i := range steps {
			if d, scale := maxDiff(steps[i], wantSteps[i]); d > 1e-4*scale {
				t.Errorf("%s: step %d: logits differ by %g (scale %g)", what, i, d, scale)
			}
		}
		if got, want := seq.tokens, append(slices.Clone(prompt), toks[:n-1]...); !slices.Equal(got, want) || seq.cache.Len() != len(want) {
			t.Errorf("%s: the cache holds %d positions, tokens %v; want %v", what, seq.cache.Len(), got, want)
		}
		held = seq.tokens
		l.prefix.put(seq, true)
	}
	p := words(60)
	turn("first turn", p, 0)
	first := slices.Clone(held)
	next := append(slices.Clone(first), words(1+20)...) // + the answer's last token + a new message
	turn("follow-up", next, len(first))
	diverged := append(slices.Clone(next[:len(first)+10]), words(30)...)
	turn("diverges mid-way", diverged, len(first)+10)
	prefix := slices.Clone(held[:100])
	turn("strict prefix of the cache", prefix, 99)
	turn("identical prompt", prefix, 99)
	// The cache holds 77 tokens past the 30 shared: it is copied.
	turn("branch off the first 30 tokens", append(slices.Clone(held[:30]), words(10)...), 30)
	other := words(40)
	turn("unrelated conversation", other, 0)
	// The branch and the unrelated request took caches of their own: the
	// first conversation is still there to continue.
	turn("back to the first", append(slices.Clone(prefix), words(5)...), 100)
}

func maxDiff(a, b []float32) (diff, scale float64) {
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i]-b[i])))
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return diff, scale
}

// A prompt starts from the idle cache sharing its longest prefix (the
// most recent among equals): that cache truncated in place when it holds
// little more (fewer than truncateTail tokens, at most a quarter of the
// prefix), else a copy of the prefix, the cache staying idle, whole, in
// its place in the order of use. Idle caches beyond the limit go, least
// recently used first; with no idle caches allowed nothing is kept.
func TestPrefix_TakeAndKeep(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"llama": {Seed: 1}})
	l := acquire(t, e, "test/llama")
	p := l.prefix
	fill := func(tokens []int) {
		t.Helper()
		seq, cached, err := p.take(tokens)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seq.Forward(context.Background(), tokens[cached:]); err != nil {
			t.Fatal(err)
		}
		p.put(seq, true)
	}
	seqOf := func(start, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = start + i
		}
		return out
	}
	fill(seqOf(10, 200))
	first := append(seqOf(10, 190), 3, 3)
	for _, tt := range []struct {
		prompt   []int
		want     int
		wantIdle int
	}{
		{first, 190, 1}, // 10 more of 190: truncated
		{append(seqOf(10, 100), seqOf(250, 30)...), 100, 2}, // 92 more: copied
		{append(seqOf(10, 20), 4), 20, 3},                   // the 130-token one, the most recent, copied
		{append(seqOf(10, 18), 5), 18, 3},                   // the 21-token one: 3 more of 18, truncated
		{append(seqOf(10, 1), 99, 98), 1, 4},                // 18 more of 1: copied
	} {
		seq, cached, err := p.take(tt.prompt)
		if err != nil {
			t.Fatal(err)
		}
		if cached != tt.want {
			t.Errorf("prompt %v: reused %d, want %d", tt.prompt, cached, tt.want)
		}
		if _, err := seq.Forward(context.Background(), tt.prompt[cached:]); err != nil {
			t.Fatal(err)
		}
		p.put(seq, true)
		if len(p.idle) != tt.wantIdle {
			t.Errorf("prompt %v: %d idle caches, want %d", tt.prompt, len(p.idle), tt.wantIdle)
		}
	}
	if src := p.idle[0]; !slices.Equal(src.tokens, first) || src.cache.Len() != len(first) {
		t.Errorf("the least recently used cache holds %d positions, tokens %v; want the first prompt's %d, untouched by the copies", src.cache.Len(), src.tokens, len(first))
	}
	for i := range idleCaches + 2 {
		fill(seqOf(150+20*i, 10))
	}
	if len(p.idle) != idleCaches || p.idle[0].tokens[0] != 190 {
		t.Errorf("%d idle caches, the oldest starting at %d; want %d, the oldest the third of the last %d", len(p.idle), p.idle[0].tokens[0], idleCaches, idleCaches+2)
	}
	p.mu.Lock()
	p.maxIdle = 0
	p.mu.Unlock()
	for p.dropIdle() {
	}
	fill(seqOf(10, 40))
	if len(p.idle) != 0 || len(p.active) != 0 {
		t.Errorf("reuse off: %d idle, %d active caches", len(p.idle), len(p.active))
	}
}

// A cancelled request gives its cache back holding exactly what was
// forwarded before the cancellation, and the next turn reuses it and
// answers as it would from scratch.
func TestPrefix_CancelledRequestKeepsWhatItForwarded(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"llama": {Seed: 1}})
	l := acquire(t, e, "test/llama")
	ctx, cancel := context.WithCancel(context.Background())
	deltas := 0
	err := e.Chat(ctx, userSays("test/llama", "Tell me a long story", 200), func(ev protocol.Event) error {
		if ev.Type == protocol.EventDelta {
			if deltas++; deltas == 3 {
				cancel()
			}
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled chat: %v", err)
	}
	if len(l.prefix.idle) != 1 {
		t.Fatalf("%d idle caches after a cancelled request, want 1", len(l.prefix.idle))
	}
	kept := l.prefix.idle[0]
	_, prompt, err := l.prompt(userSays("test/llama", "Tell me a long story", 200))
	if err != nil {
		t.Fatal(err)
	}
	if kept.cache.Len() != len(kept.tokens) || !slices.Equal(kept.tokens[:len(prompt)], prompt) || len(kept.tokens) <= len(prompt) {
		t.Fatalf("kept cache: %d positions, %d tokens (prompt %d)", kept.cache.Len(), len(kept.tokens), len(prompt))
	}
	next := append(slices.Clone(kept.tokens), 5, 6, 7)
	seq, cached, err := l.prefix.take(next)
	if err != nil {
		t.Fatal(err)
	}
	defer l.prefix.put(seq, true)
	if cached != len(kept.tokens) {
		t.Errorf("reused %d of the %d kept tokens", cached, len(kept.tokens))
	}
	toks, _ := greedy(t, seq, next, cached, 6)
	if want, _ := reference(t, l, next, 6); !slices.Equal(toks, want) {
		t.Errorf("after a cancelled turn: %v, from scratch %v", toks, want)
	}
}

// Through Chat: the second turn of a conversation reuses the first (the
// usage says how much) and answers as an engine that reuses nothing.
func TestChat_ReusesThePreviousTurn(t *testing.T) {
	specs := map[string]testmodel.Spec{"llama": {Seed: 1}}
	reuse, cold := newEngine(t, 1<<30, specs), newEngine(t, 1<<30, specs)
	off := acquire(t, cold, "test/llama").prefix
	off.mu.Lock()
	off.maxIdle = 0
	off.mu.Unlock()
	conv := userSays("test/llama", "Hello there", 12)
	prev := 0 // the previous turn's prompt tokens: all of them are reused
	for turn := range 3 {
		var got [2]protocol.Response
		for i, e := range []*Engine{reuse, cold} {
			evs, err := chat(t, e, conv)
			if err != nil {
				t.Fatal(err)
			}
			if got[i], err = protocol.Aggregate(evs); err != nil {
				t.Fatal(err)
			}
			if evs[0].Usage.CacheReadTokens != got[i].Usage.CacheReadTokens || evs[0].Usage.InputTokens != got[i].Usage.InputTokens {
				t.Errorf("turn %d: message start usage %+v, final %+v", turn, evs[0].Usage, got[i].Usage)
			}
		}
		n, err := reuse.CountTokens(context.Background(), conv)
		if err != nil {
			t.Fatal(err)
		}
		u := got[0].Usage
		if u.InputTokens+u.CacheReadTokens != n || u.CacheReadTokens < prev || (turn == 0) != (u.CacheReadTokens == 0) {
			t.Errorf("turn %d: usage %+v of a %d-token prompt", turn, u, n)
		}
		if got[1].Usage.CacheReadTokens != 0 {
			t.Errorf("turn %d: reuse off, still %d tokens reused", turn, got[1].Usage.CacheReadTokens)
		}
		if text(got[0]) != text(got[1]) || got[0].Usage.OutputTokens != got[1].Usage.OutputTokens {
			t.Errorf("turn %d: with reuse %q, without %q", turn, text(got[0]), text(got[1]))
		}
		prev = n
		conv.Messages = append(conv.Messages, protocol.Message{Role: protocol.RoleAssistant, Content: got[0].Content},
			protocol.Message{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "Go on"}}})
	}
}

func text(r protocol.Response) string {
	var s string
	for _, b := range r.Content {
		s += string(b.Type) + ":" + b.Text + b.Name + string(b.Input) + "|"
	}
	return s
}

// Requests of one model from many goroutines take turns and each answers
// what it answers alone (run with -race).
func TestChat_ConcurrentConversationsReuseSafely(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"llama": {Seed: 1}})
	convs := []string{"alpha", "beta", "gamma"}
	alone := map[string]string{}
	for _, c := range convs {
		evs, err := chat(t, e, userSays("test/llama", "Conversation "+c, 6))
		if err != nil {
			t.Fatal(err)
		}
		res, _ := protocol.Aggregate(evs)
		alone[c] = text(res)
	}
	var wg sync.WaitGroup
	for _, c := range convs {
		for range 3 {
			wg.Go(func() {
				var evs []protocol.Event
				err := e.Chat(context.Background(), userSays("test/llama", "Conversation "+c, 6), func(ev protocol.Event) error {
					evs = append(evs, ev)
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if res, _ := protocol.Aggregate(evs); text(res) != alone[c] {
					t.Errorf("%s: %q concurrently, %q alone", c, text(res), alone[c])
				}
			})
		}
	}
	wg.Wait()
}

// models lists e's models by id.
func models(e *Engine) map[string]Model {
	out := map[string]Model{}
	for _, m := range e.Models() {
		out[m.ID] = m
	}
	return out
}

// The memory budget counts weights and KV caches: shrinking it frees the
// least recently used idle caches first, across models, then evicts idle
// models.
func TestEngine_BudgetCountsKVCaches(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"a": {Seed: 1}, "b": {Seed: 2}})
	for _, c := range []struct{ model, text string }{{"test/a", "Alpha alpha alpha"}, {"test/a", "Zulu zulu zulu zu"}, {"test/b", "Mike mike mike mi"}} {
		if _, err := chat(t, e, userSays(c.model, c.text, 4)); err != nil {
			t.Fatal(err)
		}
	}
	ms := models(e)
	a, b := ms["test/a"], ms["test/b"]
	for _, m := range []Model{a, b} {
		if m.KVBytes <= 0 || m.MemoryBytes != m.SizeOnDisk+m.KVBytes {
			t.Fatalf("%s: memory %d = weights %d + KV %d?", m.ID, m.MemoryBytes, m.SizeOnDisk, m.KVBytes)
		}
	}
	total := a.MemoryBytes + b.MemoryBytes
	e.SetLimits(total-1, 0) // one cache too many: a's first conversation goes
	ms = models(e)
	if !ms["test/a"].Loaded || !ms["test/b"].Loaded || ms["test/a"].KVBytes >= a.KVBytes || ms["test/a"].KVBytes == 0 || ms["test/b"].KVBytes != b.KVBytes {
		t.Errorf("budget one byte short: a %+v, b %+v", ms["test/a"], ms["test/b"])
	}
	l := e.pool
	m, release, err := l.Acquire(context.Background(), "test/a")
	if err != nil {
		t.Fatal(err)
	}
	_, zulu, _ := m.(*loaded).prompt(userSays("test/a", "Zulu zulu zulu zu", 4))
	if idle := m.(*loaded).prefix.idle; len(idle) != 1 || !slices.Equal(idle[0].tokens[:len(zulu)], zulu) {
		t.Errorf("the cache kept is not the second conversation's")
	}
	release()
	e.SetLimits(a.SizeOnDisk+b.SizeOnDisk, 0) // the weights alone: no cache stays, both models do
	ms = models(e)
	if !ms["test/a"].Loaded || !ms["test/b"].Loaded || ms["test/a"].KVBytes != 0 || ms["test/b"].KVBytes != 0 {
		t.Errorf("budget of the weights: a %+v, b %+v", ms["test/a"], ms["test/b"])
	}
	e.SetLimits(a.SizeOnDisk+b.SizeOnDisk-1, 0) // then the least recently used model goes: b (a was looked at last)
	ms = models(e)
	if !ms["test/a"].Loaded || ms["test/b"].Loaded {
		t.Errorf("budget below the weights: a loaded %v, b loaded %v", ms["test/a"].Loaded, ms["test/b"].Loaded)
	}
}

// A request whose cache takes memory the budget does not have makes room
// while it runs: another model's idle cache goes first, the model stays.
func TestEngine_NewCacheMakesRoomFromIdleCaches(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"a": {Seed: 1}, "b": {Seed: 2}})
	for _, c := range []struct{ model, text string }{{"test/a", "Alpha alpha alpha"}, {"test/b", "Mike mike mike mi"}} {
		if _, err := chat(t, e, userSays(c.model, c.text, 4)); err != nil {
			t.Fatal(err)
		}
	}
	ms := models(e)
	budget := ms["test/a"].MemoryBytes + ms["test/b"].MemoryBytes
	e.SetLimits(budget, 0)
	if _, err := chat(t, e, userSays("test/b", "Zulu zulu zulu zu", 4)); err != nil { // a second cache for b
		t.Fatal(err)
	}
	ms = models(e)
	if !ms["test/a"].Loaded || ms["test/a"].KVBytes != 0 || ms["test/b"].KVBytes == 0 {
		t.Errorf("a %+v, b %+v: want a loaded without its cache", ms["test/a"], ms["test/b"])
	}
	if used := ms["test/a"].MemoryBytes + ms["test/b"].MemoryBytes; used > budget {
		t.Errorf("%d bytes used of a budget of %d", used, budget)
	}
}
