package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/protocol"
)

// Two conversations that share a long system prompt (two agents, or an
// agent and its sub-agent) take turns. The second one's first turn
// starts from a copy of the shared prefix, and from then on each turn
// reuses all of its own conversation's previous prompt: neither cuts the
// other's cache back to the system prompt. Every answer is what an
// engine that reuses nothing answers. With room for about one
// conversation's caches the budget holds after every turn (the copies
// count: the least recently used cache goes), every turn still starts
// from the shared prefix, and the answers are still the same.
func TestChat_ConversationsSharingASystemPromptKeepTheirCaches(t *testing.T) {
	specs := map[string]testmodel.Spec{"llama": {Seed: 1}}
	room, cold := newEngine(t, 1<<30, specs), newEngine(t, 1<<30, specs)
	off := acquire(t, cold, "test/llama").prefix
	off.mu.Lock()
	off.maxIdle = 0
	off.mu.Unlock()
	l := acquire(t, room, "test/llama")

	system := []protocol.Block{{Type: protocol.BlockText, Text: strings.Repeat("Rules of the agent. ", 40)}}
	start := func() map[string]*protocol.Request {
		convs := map[string]*protocol.Request{}
		for _, c := range []string{"A", "B"} {
			r := userSays("test/llama", strings.Repeat("Conversation "+c+" history. ", 12), 4)
			r.System = system
			convs[c] = &r
		}
		return convs
	}
	convs := start()
	_, promptA, _ := l.prompt(*convs["A"])
	_, promptB, _ := l.prompt(*convs["B"])
	shared := commonPrefix(promptA, promptB)
	if shared < 200 || len(promptA)-shared < truncateTail {
		t.Fatalf("the conversations share %d of %d tokens: want a long shared prefix and more than %d of their own", shared, len(promptA), truncateTail)
	}

	var answers []string // the reusing engine's, in order
	var most int64       // its largest KV memory after a turn
	prev := map[string]int{}
	for turn := range 3 {
		for _, c := range []string{"A", "B"} {
			r := convs[c]
			got, want := ask(t, room, *r), ask(t, cold, *r)
			if text(got) != text(want) {
				t.Errorf("turn %d of %s: with reuse %q, without %q", turn, c, text(got), text(want))
			}
			n, _ := room.CountTokens(context.Background(), *r)
			u := got.Usage
			switch {
			case u.InputTokens+u.CacheReadTokens != n:
				t.Errorf("turn %d of %s: usage %+v of a %d-token prompt", turn, c, u, n)
			case turn == 0 && c == "B" && u.CacheReadTokens != shared:
				t.Errorf("B's first turn reused %d tokens, want the %d it shares with A", u.CacheReadTokens, shared)
			case turn > 0 && u.CacheReadTokens < prev[c]:
				t.Errorf("turn %d of %s: reused %d of a %d-token prompt, want all of its previous %d", turn, c, u.CacheReadTokens, n, prev[c])
			}
			prev[c] = n
			answers = append(answers, text(got))
			most = max(most, models(room)["test/llama"].KVBytes)
			r.Messages = append(r.Messages, protocol.Message{Role: protocol.RoleAssistant, Content: got.Content},
				protocol.Message{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "Go on " + c}}})
		}
	}

	tight := newEngine(t, 1<<30, specs)
	weights := models(tight)["test/llama"].SizeOnDisk
	budget := weights + most/2
	tight.SetLimits(budget, 0)
	convs = start()
	for i := range answers {
		c := []string{"A", "B"}[i%2]
		r := convs[c]
		got := ask(t, tight, *r)
		if text(got) != answers[i] {
			t.Errorf("turn %d of %s, budget of %d bytes for caches: %q; with room %q", i/2, c, most/2, text(got), answers[i])
		}
		if i > 0 && got.Usage.CacheReadTokens < shared {
			t.Errorf("turn %d of %s, budget of %d bytes for caches: reused %d, want at least the shared %d", i/2, c, most/2, got.Usage.CacheReadTokens, shared)
		}
		if m := models(tight)["test/llama"]; m.MemoryBytes > budget {
			t.Errorf("turn %d of %s: %d bytes used (%d of KV caches), budget %d", i/2, c, m.MemoryBytes, m.KVBytes, budget)
		}
		r.Messages = append(r.Messages, protocol.Message{Role: protocol.RoleAssistant, Content: got.Content},
			protocol.Message{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "Go on " + c}}})
	}
}

// ask runs r on e and returns the aggregated answer.
func ask(t *testing.T, e *Engine, r protocol.Request) protocol.Response {
	t.Helper()
	evs, err := chat(t, e, r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := protocol.Aggregate(evs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
