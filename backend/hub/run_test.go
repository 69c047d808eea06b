package hub_test

import (
	"context"
	"testing"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/hub/hubtest"
	"github.com/modelbar/modelbar/backend/protocol"
)

// TestDownload_ModelRuns: what Download leaves in the cache is what the
// engine finds in the Hugging Face cache (id, revision) and can chat with.
func TestDownload_ModelRuns(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	m := h.AddModel(repo, tinyModel(t, 11), hubtest.ModelOptions{})
	cache := t.TempDir()
	if _, err := download(t.Context(), t, newClient(h, ""), cache, repo); err != nil {
		t.Fatal(err)
	}
	root := modelfile.Root{Kind: modelfile.HFCache, Dir: cache}
	entries := modelfile.Discover(root)
	if len(entries) != 1 || entries[0].ID != repo || entries[0].Revision != m.Commit || !entries[0].Usable() {
		t.Fatalf("discovered %+v", entries)
	}
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	e := engine.New(engine.Options{Roots: []modelfile.Root{root}, Budget: 1 << 30, Backend: b})
	t.Cleanup(e.Close)
	zero := 0.0
	var evs []protocol.Event
	err := e.Chat(context.Background(), protocol.Request{Model: repo, MaxTokens: 4, Temperature: &zero,
		Messages: []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "Hello"}}}}},
		func(ev protocol.Event) error { evs = append(evs, ev); return nil })
	if err != nil {
		t.Fatal(err)
	}
	res, err := protocol.Aggregate(evs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Usage.OutputTokens == 0 {
		t.Errorf("no tokens generated: %+v", res.Usage)
	}
}
