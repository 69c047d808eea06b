package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/protocol"
)

// A model's window is its config's max_position_embeddings, read without
// loading it; a name no model has is ErrNotFound.
func TestContextLength_FromConfig(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{
		"small": {Architecture: "qwen2", MaxPositionEmbeddings: 96, Seed: 1},
		"big":   {Seed: 2}, // testmodel's default, 2048
	})
	for _, tt := range []struct {
		model string
		want  int
	}{{"test/small", 96}, {"test/big", 2048}} {
		got, err := e.ContextLength(tt.model)
		if err != nil || got != tt.want {
			t.Errorf("ContextLength(%s) = %d, %v; want %d", tt.model, got, err, tt.want)
		}
	}
	if _, err := e.ContextLength("test/nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown model: %v", err)
	}
	if st := e.pool.Status(); len(st) != 0 {
		t.Errorf("asking for a window loaded %+v", st)
	}
}

// CountPrompt counts what CountTokens counts (the template's render,
// tools and a system prompt included) without loading the model; a load
// after it reuses the tokenizer it read.
func TestCountPrompt_AsCountTokensWithoutLoading(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{
		"qwen":  {Architecture: "qwen2", Seed: 3},
		"llama": {Seed: 4},
	})
	withTools := userSays("test/qwen", "What is the weather in Paris?", 8)
	withTools.System = []protocol.Block{{Type: protocol.BlockText, Text: "You answer briefly."}}
	withTools.Tools = []protocol.Tool{{Name: "weather", Description: "Looks the weather up", InputSchema: []byte(`{"type":"object","properties":{"city":{"type":"string"}}}`)}}
	reqs := []protocol.Request{
		userSays("test/qwen", "hi", 8),
		userSays("test/qwen", strings.Repeat("a long conversation ", 40), 8),
		withTools,
		userSays("test/llama", "hello there", 8),
	}
	counts := make([]int, len(reqs))
	for i, r := range reqs {
		n, err := e.CountPrompt(context.Background(), r)
		if err != nil || n <= 0 {
			t.Fatalf("CountPrompt(%d) = %d, %v", i, n, err)
		}
		counts[i] = n
	}
	if st := e.pool.Status(); len(st) != 0 {
		t.Fatalf("counting loaded %+v", st)
	}
	if counts[1] <= counts[0] || counts[2] <= counts[0] {
		t.Errorf("counts %v: a longer prompt, or one with a system prompt and tools, must count more", counts)
	}
	counted, _ := e.prompters.get(mustFind(t, e, "test/qwen"))
	for i, r := range reqs {
		n, err := e.CountTokens(context.Background(), r) // loads the model
		if err != nil || n != counts[i] {
			t.Errorf("CountTokens(%d) = %d, %v; CountPrompt said %d", i, n, err, counts[i])
		}
	}
	m, release, err := e.pool.Acquire(context.Background(), "test/qwen")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if m.(*loaded).prompter != counted {
		t.Error("the loaded model read its tokenizer again instead of taking the counted one")
	}
	if _, err := e.CountPrompt(context.Background(), userSays("test/nope", "hi", 1)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown model: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.CountPrompt(ctx, reqs[0]); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled count: %v", err)
	}
}

func mustFind(t *testing.T, e *Engine, name string) modelfile.Entry {
	t.Helper()
	en, err := e.find(name)
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// The prompters kept are bounded: the least recently used goes first.
func TestPrompters_KeepTheLastFew(t *testing.T) {
	specs := map[string]testmodel.Spec{}
	for i := range keptPrompters + 1 {
		specs[fmt.Sprintf("m%d", i)] = testmodel.Spec{Architecture: "qwen2", Seed: uint64(i + 1)}
	}
	e := newEngine(t, 1<<30, specs)
	first := mustFind(t, e, "test/m0")
	p0, err := e.prompters.get(first)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= keptPrompters; i++ {
		if _, err := e.CountPrompt(context.Background(), userSays(fmt.Sprintf("test/m%d", i), "hi", 1)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.prompters.byDir); n != keptPrompters {
		t.Errorf("%d prompters kept; want %d", n, keptPrompters)
	}
	if p, _ := e.prompters.get(first); p == p0 {
		t.Error("the least recently used prompter was kept")
	}
	if p, _ := e.prompters.get(first); p == nil || p != e.prompters.byDir[first.Path].p {
		t.Error("a prompter read again is not kept")
	}
}

// Callers that miss at once share one read: they all get the same
// prompter, the one kept.
func TestPrompters_ConcurrentMissesShareOneRead(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"m": {Architecture: "qwen2", Seed: 3}})
	en := mustFind(t, e, "test/m")
	const callers = 8
	got := make([]*prompter, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			p, err := e.prompters.get(en)
			if err != nil {
				t.Error(err)
			}
			got[i] = p
		})
	}
	wg.Wait()
	for i, p := range got {
		if p == nil || p != e.prompters.byDir[en.Path].p {
			t.Fatalf("caller %d got its own prompter (%p), not the kept one (%p): the misses read it again", i, p, e.prompters.byDir[en.Path].p)
		}
	}
	if len(e.prompters.reading) != 0 {
		t.Errorf("%d reads still recorded as under way", len(e.prompters.reading))
	}
}

// A conversation the window cannot hold with room for one token is a
// ContextError, which reads as the client's RequestError; CountPrompt
// counts the same tokens the refusal names. A completion prompt too.
func TestChat_TooLongIsContextError(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"tiny": {Architecture: "qwen2", MaxPositionEmbeddings: 32, Seed: 5}})
	r := userSays("test/tiny", strings.Repeat("word ", 40), 4)
	want, err := e.CountPrompt(context.Background(), r)
	if err != nil || want < 32 {
		t.Fatalf("CountPrompt = %d, %v; the test needs a prompt over 32 tokens", want, err)
	}
	_, err = chat(t, e, r)
	var ce *ContextError
	if !errors.As(err, &ce) {
		t.Fatalf("chat: %v; want a ContextError", err)
	}
	if *ce != (ContextError{Model: "test/tiny", Param: "messages", Tokens: want, Window: 32}) {
		t.Errorf("ContextError %+v; want %d tokens of a 32-token window", *ce, want)
	}
	var re *protocol.RequestError
	if !errors.As(err, &re) || re.Param != "messages" || !strings.Contains(err.Error(), fmt.Sprintf("the conversation is %d tokens; test/tiny holds 32", want)) {
		t.Errorf("as a request error: %v (%+v)", err, re)
	}
	_, err = e.Complete(context.Background(), Completion{Model: "test/tiny", Prompt: strings.Repeat("word ", 40), MaxTokens: 1}, func(string) error { return nil })
	if !errors.As(err, &ce) || ce.Param != "prompt" || ce.Window != 32 || !strings.Contains(err.Error(), "the prompt is") {
		t.Errorf("completion: %v", err)
	}
	_, err = e.Complete(context.Background(), Completion{Model: "test/tiny", Prompt: "hi", MaxTokens: 1, Sampling: generate.Sampling{}}, func(string) error { return nil })
	if err != nil {
		t.Errorf("a short completion: %v", err)
	}
}
