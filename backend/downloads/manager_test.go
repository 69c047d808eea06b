package downloads_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/downloads"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/events"
	"github.com/modelbar/modelbar/backend/store"
)

// fakeHub serves plans from a map; Fetch reports progress in steps and
// waits for a release (or ctx) before each.
type fakeHub struct {
	mu        sync.Mutex
	plans     map[string]downloads.Plan
	fetching  map[string]int // concurrent fetches per repo, now
	maxAtOnce int
	running   int
	step      chan struct{} // each receive lets one step of any fetch go
	fail      error         // Fetch's error, once all steps are done
	discarded []string
}

func newFakeHub(t *testing.T) *fakeHub {
	cfg := tinyConfig(t)
	h := &fakeHub{plans: map[string]downloads.Plan{}, fetching: map[string]int{}, step: make(chan struct{})}
	for _, repo := range []string{"org/a", "org/b", "org/c"} {
		h.plans[repo] = downloads.Plan{Repo: repo, Revision: "main", Commit: "c0ffee" + repo[4:], Config: cfg,
			Files: []downloads.File{{Path: "config.json", Size: 10}, {Path: "model.safetensors", Size: 90}}}
	}
	h.plans["org/noweights"] = downloads.Plan{Repo: "org/noweights", Revision: "main", Commit: "1", Files: []downloads.File{{Path: "model.gguf", Size: 5}}}
	return h
}

func tinyConfig(t *testing.T) []byte {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Spec{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, modelfile.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *fakeHub) Search(context.Context, downloads.SearchQuery) ([]downloads.Summary, error) {
	return []downloads.Summary{{Repo: "mlx-community/Qwen2.5-0.5B-Instruct-4bit"}}, nil
}

func (h *fakeHub) Plan(_ context.Context, repo, rev string) (downloads.Plan, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.plans[repo]
	if !ok {
		return downloads.Plan{}, &downloads.Error{Kind: downloads.NotFound, Message: "no repo " + repo}
	}
	p.Revision = rev
	return p, nil
}

func (h *fakeHub) Fetch(ctx context.Context, p downloads.Plan, progress func(done, total int64)) error {
	h.mu.Lock()
	h.running++
	h.maxAtOnce = max(h.maxAtOnce, h.running)
	fail := h.fail
	h.mu.Unlock()
	defer func() { h.mu.Lock(); h.running--; h.mu.Unlock() }()
	total := p.TotalBytes()
	for done := int64(0); done < total; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.step:
		}
		done += 25
		progress(min(done, total), total)
	}
	return fail
}

func (h *fakeHub) Discard(_ context.Context, p downloads.Plan) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.discarded = append(h.discarded, p.Repo)
	return nil
}

func (h *fakeHub) Remove(context.Context, string, string) error { return nil }

// release lets n steps go.
func (h *fakeHub) release(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case h.step <- struct{}{}:
		case <-time.After(5 * time.Second):
			t.Fatal("no fetch took a step")
		}
	}
}

func waitState(t *testing.T, m *downloads.Manager, id string, want downloads.State) downloads.Download {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := m.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if d.State == want {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("download %s: state %s (%s), want %s", id, d.State, d.Error, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func openStore(t *testing.T, path string) *store.Store {
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestManager_DownloadsToDoneWithEventsAndModelID(t *testing.T) {
	h := newFakeHub(t)
	hub := events.NewHub()
	sub := hub.Subscribe(t.Context())
	var finished []string
	m, err := downloads.New(t.Context(), downloads.Options{Hub: h, Events: hub, Store: openStore(t, filepath.Join(t.TempDir(), "db")),
		Finished: func(_ context.Context, d downloads.Download) string {
			finished = append(finished, d.Repo)
			return "org/a"
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d, err := m.Start(t.Context(), "org/a", "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Revision != "main" || d.TotalBytes != 100 || d.Commit != "c0ffeea" {
		t.Errorf("started: %+v", d)
	}
	again, _ := m.Start(t.Context(), "org/a", "main")
	if again.ID != d.ID {
		t.Errorf("a second start of a running download made %s, want %s", again.ID, d.ID)
	}
	h.release(t, 4)
	got := waitState(t, m, d.ID, downloads.Done)
	if got.ModelID != "org/a" || got.DoneBytes != 100 || len(finished) != 1 {
		t.Errorf("done: %+v, finished %v", got, finished)
	}
	states := map[downloads.State]bool{}
	timeout := time.After(2 * time.Second)
	for !states[downloads.Done] {
		select {
		case ev := <-sub:
			if ev.Topic == events.Downloads {
				var s struct{ State downloads.State }
				jsonUnmarshal(t, ev.Data, &s)
				states[s.State] = true
			}
		case <-timeout:
			t.Fatalf("events: saw %v, never done", states)
		}
	}
	for _, s := range []downloads.State{downloads.Queued, downloads.Downloading, downloads.Verifying} {
		if !states[s] {
			t.Errorf("no %s event (saw %v)", s, states)
		}
	}
}

func TestManager_ParallelLimitQueues(t *testing.T) {
	h := newFakeHub(t)
	m, _ := downloads.New(t.Context(), downloads.Options{Hub: h, Parallel: 1})
	defer m.Close()
	a, _ := m.Start(t.Context(), "org/a", "main")
	b, _ := m.Start(t.Context(), "org/b", "main")
	waitState(t, m, a.ID, downloads.Downloading)
	if d, _ := m.Get(b.ID); d.State != downloads.Queued {
		t.Errorf("second download %s with a limit of 1, want queued", d.State)
	}
	h.release(t, 4)
	waitState(t, m, a.ID, downloads.Done)
	waitState(t, m, b.ID, downloads.Downloading)
	h.release(t, 4)
	waitState(t, m, b.ID, downloads.Done)
	if h.maxAtOnce != 1 {
		t.Errorf("%d fetches ran at once, want 1", h.maxAtOnce)
	}
}

func TestManager_Cancel(t *testing.T) {
	for _, discard := range []bool{false, true} {
		h := newFakeHub(t)
		m, _ := downloads.New(t.Context(), downloads.Options{Hub: h, Parallel: 1})
		a, _ := m.Start(t.Context(), "org/a", "main")
		b, _ := m.Start(t.Context(), "org/b", "main")
		h.release(t, 1)
		if _, err := m.Cancel(t.Context(), a.ID, discard); err != nil {
			t.Fatal(err)
		}
		waitState(t, m, a.ID, downloads.Cancelled)
		// the queued one runs now; cancel it while queued is tested with c
		c, _ := m.Start(t.Context(), "org/c", "main")
		if d, err := m.Cancel(t.Context(), c.ID, false); err != nil || d.State != downloads.Cancelled {
			t.Errorf("cancel queued: %+v, %v", d, err)
		}
		h.release(t, 4)
		waitState(t, m, b.ID, downloads.Done)
		if _, err := m.Cancel(t.Context(), b.ID, false); !isKind(err, downloads.Conflict) {
			t.Errorf("cancel a finished download: %v, want a conflict", err)
		}
		if _, err := m.Cancel(t.Context(), "dl_nope", false); !isKind(err, downloads.NotFound) {
			t.Errorf("cancel an unknown download: %v, want not found", err)
		}
		m.Close()
		h.mu.Lock()
		if got := len(h.discarded) == 1; got != discard {
			t.Errorf("discard=%v: partial files removed for %v", discard, h.discarded)
		}
		h.mu.Unlock()
	}
}

func TestManager_RestartContinues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelbar.db")
	h := newFakeHub(t)
	st := openStore(t, path)
	m, _ := downloads.New(t.Context(), downloads.Options{Hub: h, Store: st})
	d, _ := m.Start(t.Context(), "org/a", "main")
	h.release(t, 2)
	m.Close()
	recs, _ := st.ListDownloads(t.Context())
	if len(recs) != 1 || recs[0].State != "queued" || recs[0].DoneBytes != 50 {
		t.Fatalf("stored after a shutdown mid-download: %+v, want queued at 50 bytes", recs)
	}
	m2, err := downloads.New(t.Context(), downloads.Options{Hub: h, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	waitState(t, m2, d.ID, downloads.Downloading)
	h.release(t, 4)
	got := waitState(t, m2, d.ID, downloads.Done)
	if got.Commit != "c0ffeea" || got.ModelID != "org/a" {
		t.Errorf("after restart: %+v", got)
	}
}

func TestManager_Failures(t *testing.T) {
	h := newFakeHub(t)
	m, _ := downloads.New(t.Context(), downloads.Options{Hub: h})
	defer m.Close()
	for _, tc := range []struct {
		repo string
		kind downloads.Kind
	}{
		{"org/missing", downloads.NotFound},
		{"org/noweights", downloads.NoWeights},
		{"not-a-repo", downloads.Invalid},
		{"../etc", downloads.Invalid},
		{"org/..", downloads.Invalid},
	} {
		if _, err := m.Start(t.Context(), tc.repo, "main"); !isKind(err, tc.kind) {
			t.Errorf("Start(%q): %v, want kind %s", tc.repo, err, tc.kind)
		}
	}
	h.fail = &downloads.Error{Kind: downloads.Checksum, Message: "model.safetensors did not match its SHA-256 twice"}
	d, _ := m.Start(t.Context(), "org/a", "main")
	h.release(t, 4)
	got := waitState(t, m, d.ID, downloads.Failed)
	if got.ErrorKind != downloads.Checksum || got.Error == "" {
		t.Errorf("failed: %+v", got)
	}
}

func TestManager_Info(t *testing.T) {
	h := newFakeHub(t)
	h.plans["mlx-community/Big-7B-4bit"] = downloads.Plan{Repo: "mlx-community/Big-7B-4bit", Commit: "9", Config: []byte(`{"model_type":"gpt_bigcode"}`),
		Files: []downloads.File{{Path: "model.safetensors", Size: 4 << 30}}}
	cache := t.TempDir()
	m, _ := downloads.New(t.Context(), downloads.Options{Hub: h, CacheDir: cache, Budget: func() int64 { return 1 << 20 }})
	defer m.Close()
	in, err := m.Info(t.Context(), "org/a", "main")
	if err != nil {
		t.Fatal(err)
	}
	// the tiny llama: 2 layers, 2 KV heads, head dim 16, 2048 positions
	wantKV := int64(2 * 2 * 2 * 16 * 2048 * 2)
	if !in.Supported || in.Reason != "" || in.Architecture != "llama" || in.KVAllowanceBytes != wantKV ||
		in.NeededBytes != 90+wantKV || !in.Fits || in.ContextLength != 2048 || in.Downloaded {
		t.Errorf("tiny model: %+v", in)
	}
	big, err := m.Info(t.Context(), "mlx-community/Big-7B-4bit", "")
	if err != nil {
		t.Fatal(err)
	}
	if big.Supported || big.Reason == "" || big.Fits || big.Params != "7B" || big.Quantization != "4bit" || big.Architecture != "gpt_bigcode" {
		t.Errorf("unsupported big model: %+v", big)
	}
	os.MkdirAll(filepath.Join(cache, "models--org--a", "snapshots", "c0ffeea"), 0o755)
	os.WriteFile(filepath.Join(cache, "models--org--a", "snapshots", "c0ffeea", "config.json"), []byte("{}"), 0o644)
	if in, _ := m.Info(t.Context(), "org/a", "main"); !in.Downloaded {
		t.Error("a cached snapshot is not downloaded")
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ repo, params, quant string }{
		{"mlx-community/Qwen2.5-0.5B-Instruct-4bit", "0.5B", "4bit"},
		{"mlx-community/Llama-3.2-3B-Instruct-8bit", "3B", "8bit"},
		{"mlx-community/SmolLM-135M-Instruct-bf16", "135M", "bf16"},
		{"mlx-community/Mistral-7B-Instruct-v0.3-4-bit", "7B", "4bit"},
		{"org/plain", "", ""},
	} {
		if p, q := downloads.ParamsFromName(tc.repo), downloads.QuantFromName(tc.repo); p != tc.params || q != tc.quant {
			t.Errorf("%s: params %q quant %q, want %q %q", tc.repo, p, q, tc.params, tc.quant)
		}
	}
}

func isKind(err error, k downloads.Kind) bool {
	var e *downloads.Error
	return errors.As(err, &e) && e.Kind == k
}
