// Package engine is the local backend: it finds MLX-format models on disk,
// keeps them loaded in a memory-bounded pool, and answers chat requests in
// the internal model of package protocol — the chat template rendered,
// tokens generated on a tensor backend, reasoning and tool calls read out
// of the model's output. It knows nothing of HTTP or SQLite.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/pool"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// ErrNotFound: no usable local model has that name.
var ErrNotFound = errors.New("no local model by that name")

// Options configure an Engine.
type Options struct {
	Roots   []modelfile.Root // where models are found
	Budget  int64            // memory all loaded models may take: weights and KV caches
	IdleTTL time.Duration    // unload a model unused this long; 0: never
	Backend tensor.Backend   // computes the models
	// BackendReason says why this backend runs (e.g. why not MLX), for
	// /api/status and the log.
	BackendReason string
	Log           *slog.Logger
	// Rescan is how often the engine looks at the disk for models added
	// or removed when nobody asks (OnChange hears of them); 0: only when
	// asked.
	Rescan time.Duration
}

// Engine is the local engine. Safe for concurrent use.
type Engine struct {
	opts Options
	pool *pool.Pool

	mu      sync.Mutex
	catalog []modelfile.Entry      // guarded by mu: the last discovery
	scanned time.Time              // guarded by mu
	tools   map[string]toolsAnswer // guarded by mu: toolUse's answers by model directory (tools.go)

	prompters prompters // tokenizers and chat templates read without the weights (window.go)

	obsMu     sync.Mutex     // guards observers
	observers []func(Change) // OnChange's (changes.go)

	closed    chan struct{} // closed by Close: ends the rescan loop
	closeOnce sync.Once
}

// New starts an engine; Close stops it.
func New(opts Options) *Engine {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{opts: opts, closed: make(chan struct{})}
	e.pool = pool.New(loader{e}, pool.Options{Budget: opts.Budget, IdleTTL: opts.IdleTTL, OnChange: e.tell})
	if opts.Rescan > 0 {
		go e.rescanLoop(opts.Rescan)
	}
	return e
}

// Close unloads every model. Call it once requests have finished.
func (e *Engine) Close() {
	e.closeOnce.Do(func() { close(e.closed) })
	e.pool.Close()
}

// Backend names the tensor backend.
func (e *Engine) Backend() string { return e.opts.Backend.Name() }

// BackendReason says why this backend runs.
func (e *Engine) BackendReason() string { return e.opts.BackendReason }

// rescanAfter bounds how often a missing name makes the engine look at the
// disk again (a model just downloaded is found without a restart).
const rescanAfter = 2 * time.Second

// Models lists every model found, usable or not, with the loaded state.
func (e *Engine) Models() []Model {
	entries := e.discover(true)
	loaded := map[string]pool.Status{}
	for _, st := range e.pool.Status() {
		loaded[st.Name] = st
	}
	out := make([]Model, 0, len(entries))
	for _, en := range entries {
		m := Model{Entry: en, ToolUse: e.toolUse(en)}
		if st, ok := loaded[en.ID]; ok {
			m.Loaded, m.Loading, m.Pinned, m.MemoryBytes, m.KVBytes, m.InUse = !st.Loading, st.Loading, st.Pinned, st.Memory, st.Caches, st.InUse
		}
		out = append(out, m)
	}
	return out
}

// Model is a model found on disk and its state in memory.
type Model struct {
	modelfile.Entry
	ToolUse     bool // its chat template takes tools and the engine reads its tool calls
	Loaded      bool
	Loading     bool
	Pinned      bool
	InUse       int
	MemoryBytes int64 // what it holds: weights and KV caches
	KVBytes     int64 // the part of MemoryBytes its KV caches take (in use and kept for reuse)
}

// Has reports whether a usable model has that name.
func (e *Engine) Has(name string) bool {
	_, err := e.find(name)
	return err == nil
}

// find returns the catalog entry of name, looking at the disk again when it
// is missing and the last look is older than rescanAfter. Callers find a
// model before asking the pool for it, so the pool's goroutine never waits
// for a disk scan (the loader looks only in the catalog).
func (e *Engine) find(name string) (modelfile.Entry, error) {
	return e.lookup(name, true)
}

func (e *Engine) lookup(name string, rescan bool) (modelfile.Entry, error) {
	for _, fresh := range []bool{false, rescan} {
		catalog := e.discover(fresh) // a snapshot: a rescan replaces the slice, never changes it
		i := slices.IndexFunc(catalog, func(en modelfile.Entry) bool { return en.ID == name })
		if i < 0 {
			continue
		}
		en := catalog[i]
		if !en.Usable() {
			return en, fmt.Errorf("local model %s cannot be used: %s", name, en.Reason)
		}
		return en, nil
	}
	return modelfile.Entry{}, fmt.Errorf("%w: %q", ErrNotFound, name)
}

// discover returns the catalog, rescanning the disk when asked and the
// last scan is older than rescanAfter, or when there has been none.
func (e *Engine) discover(fresh bool) []modelfile.Entry {
	e.mu.Lock()
	stale := e.scanned.IsZero() || (fresh && time.Since(e.scanned) > rescanAfter)
	catalog := e.catalog
	e.mu.Unlock()
	if !stale {
		return catalog
	}
	return e.rescan()
}

// rescan looks at the disk now and tells the observers which models it
// found or no longer finds (the first scan tells nothing: there was no
// list to differ from).
func (e *Engine) rescan() []modelfile.Entry {
	e.mu.Lock()
	first, before := e.scanned.IsZero(), e.catalog
	e.catalog, e.scanned = modelfile.Discover(e.opts.Roots...), time.Now()
	now := e.catalog
	e.mu.Unlock()
	if !first {
		for _, c := range catalogChanges(before, now) {
			e.tell(c)
		}
	}
	return now
}

// Rescan looks at the disk now, so a model just downloaded or removed is
// listed (and told of, OnChange) without waiting for the next rescan.
func (e *Engine) Rescan() { e.rescan() }

// SetLimits changes the memory budget and idle TTL of loaded models.
func (e *Engine) SetLimits(budget int64, idleTTL time.Duration) { e.pool.SetLimits(budget, idleTTL) }

// Load loads a model ahead of use; pin keeps it loaded.
func (e *Engine) Load(ctx context.Context, name string, pin bool) error {
	if _, err := e.find(name); err != nil {
		return err
	}
	return e.pool.Load(ctx, name, pin)
}

// Pin sets whether a loaded model is pinned (kept through eviction and
// idle unloading).
func (e *Engine) Pin(name string, pinned bool) error { return e.pool.Pin(name, pinned) }

// Unload unloads a model (once its requests have finished).
func (e *Engine) Unload(name string) (bool, error) { return e.pool.Unload(name) }

// loader is the pool's view of the engine.
type loader struct{ e *Engine }

func (l loader) Estimate(name string) (int64, error) {
	en, err := l.e.lookup(name, false)
	if err != nil {
		return 0, err
	}
	return en.SizeOnDisk, nil
}

func (l loader) Load(ctx context.Context, name string) (pool.Model, error) {
	en, err := l.e.lookup(name, false)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	p, err := l.e.prompters.get(en)
	if err != nil {
		return nil, err
	}
	m, err := open(en, l.e.opts.Backend, p)
	if err != nil {
		return nil, err
	}
	m.prefix.grew = l.e.pool.Fit
	l.e.opts.Log.Info("local model loaded", "model", name, "backend", l.e.opts.Backend.Name(),
		"seconds", time.Since(start).Seconds())
	return m, nil
}
