// Package pool keeps local models loaded: on first use (just in time) or on
// request, within a memory budget, evicting the least recently used idle
// model when a new one needs room, unloading models idle longer than a TTL,
// never evicting a pinned model or one a request is using. One goroutine
// owns all of that state; callers talk to it with request structs.
//
// The budget counts what models hold now, not what they held when they
// loaded: a model's MemoryBytes is its weights plus its caches (the
// engine's KV caches, those requests are using and those kept idle for
// reuse), and it grows and shrinks while the model is loaded. Models with
// caches implement Caches. To make room the pool first frees idle caches,
// least recently used first across every model (pinned and busy ones
// included: a cache is never pinned), and only then evicts idle models; a
// cache in use is never touched. The pool looks at the total when a model
// is acquired or released, when the limits change, and when a model says
// its memory grew (Fit: a long prefill grows a cache by hundreds of MB in
// the middle of a request).
package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Loader loads models. Estimate says how much memory a model will take
// before it is loaded (to make room first); Load may take seconds and is
// called outside the pool's goroutine, one load per model at a time.
type Loader interface {
	Estimate(name string) (int64, error)
	Load(ctx context.Context, name string) (Model, error)
}

// Model is a loaded model. MemoryBytes is the memory it holds now (weights
// and caches; it may change while the model is loaded) and is called from
// the pool's goroutine at any time, so it must be safe for concurrent use
// and quick. Close frees the model; the pool calls it once, when no
// request uses the model any more.
type Model interface {
	MemoryBytes() int64
	Close() error
}

// Caches is implemented by models that hold caches beside their weights
// (the engine's KV caches). The pool calls its methods from its goroutine
// while requests use the model, so they must be safe for concurrent use;
// none may block on a request.
type Caches interface {
	// CacheBytes is the part of MemoryBytes the caches take, those in
	// use included.
	CacheBytes() int64
	// OldestIdleCache reports when the least recently used idle cache
	// (one no request is using) was last used; false when none is idle.
	OldestIdleCache() (time.Time, bool)
	// DropIdleCache frees that cache, reporting whether there was one.
	// It must not wait for a compute step (a backend busy with a prefill
	// would stall the pool): CacheBytes drops at once, and the memory
	// may be released a moment later.
	DropIdleCache() bool
}

// Options configure a Pool.
type Options struct {
	Budget  int64         // bytes all loaded models may take together
	IdleTTL time.Duration // unload a model unused this long; 0: never
	Now     func() time.Time
	Tick    time.Duration // how often idle models are checked; 0: a minute
	// OnChange, if set, hears of every change of a model's state in the
	// pool. It runs on the pool's goroutine, in the order the changes
	// happen: it must return quickly and must not call the Pool (hand the
	// change off, as an events hub's non-blocking Publish does).
	OnChange func(Change)
}

// Change is one model's change of state in the pool.
type Change struct {
	Model string `json:"model"`
	Kind  Kind   `json:"change"`
}

// Kind names a change of state.
type Kind string

// The changes a pool reports.
const (
	Loading    Kind = "loading"     // a load began
	Loaded     Kind = "loaded"      // a load ended well
	LoadFailed Kind = "load_failed" // a load ended in an error
	Unloaded   Kind = "unloaded"    // unloaded when asked (or at shutdown)
	Evicted    Kind = "evicted"     // unloaded to make room within the budget
	Expired    Kind = "expired"     // unloaded after the idle TTL
	Pinned     Kind = "pinned"
	Unpinned   Kind = "unpinned"
)

// Errors the pool returns.
var (
	ErrTooLarge = errors.New("the model does not fit in the memory budget")
	ErrNoRoom   = errors.New("no room: the models in memory are pinned or in use")
	ErrClosed   = errors.New("the model pool is closed")
)

// Status is one loaded (or loading) model.
type Status struct {
	Name    string `json:"name"`
	Memory  int64  `json:"memory_bytes"` // all it holds (while loading: the estimate)
	Caches  int64  `json:"cache_bytes"`  // the part of Memory its caches take
	Pinned  bool   `json:"pinned"`
	InUse   int    `json:"in_use"`
	Loading bool   `json:"loading"`
	Waiting int    `json:"waiting"` // requests waiting for the load

	LastUsed time.Time `json:"last_used"`
}

// Pool is the model pool. Its methods are safe for concurrent use.
type Pool struct {
	loader Loader
	opts   Options
	reqs   chan func(*state)
	fit    chan struct{} // a pending Fit (buffered: one is enough)
	done   chan struct{}
	once   sync.Once
}

// New starts a pool. Close stops it and unloads every model.
func New(loader Loader, opts Options) *Pool {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Minute
	}
	p := &Pool{loader: loader, opts: opts, reqs: make(chan func(*state)), fit: make(chan struct{}, 1), done: make(chan struct{})}
	st := &state{pool: p, models: map[string]*entry{}}
	go st.run()
	return p
}

// do runs f on the pool's goroutine and waits for it.
func (p *Pool) do(ctx context.Context, f func(*state)) error {
	finished := make(chan struct{})
	select {
	case p.reqs <- func(s *state) { f(s); close(finished) }:
	case <-p.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-finished
	return nil
}

// Acquire returns the model, loading it first if needed (making room by
// evicting idle models), and marks it in use until release is called.
// release must be called exactly once.
func (p *Pool) Acquire(ctx context.Context, name string) (Model, func(), error) {
	for {
		var loading *entry
		var loaded chan struct{}
		var m Model
		var err error
		if derr := p.do(ctx, func(s *state) {
			if m, loading, err = s.acquire(name); loading != nil {
				loaded = loading.loading // read here: the pool's goroutine clears it
			}
		}); derr != nil {
			return nil, nil, derr
		}
		switch {
		case err != nil:
			return nil, nil, err
		case m != nil:
			return m, p.releaser(name), nil
		}
		select { // a load is under way: it counts this request as a user when it ends
		case <-loaded:
			if loading.err != nil {
				return nil, nil, loading.err
			}
			return loading.model, p.releaser(name), nil
		case <-ctx.Done():
			p.do(context.Background(), func(s *state) { s.abandon(name, loading) })
			return nil, nil, ctx.Err()
		case <-p.done:
			return nil, nil, ErrClosed
		}
	}
}

func (p *Pool) releaser(name string) func() {
	released := false
	return func() {
		if released {
			return
		}
		released = true
		p.do(context.Background(), func(s *state) { s.release(name) })
	}
}

// Load loads a model ahead of use; pin keeps it from eviction and idle
// unloading.
func (p *Pool) Load(ctx context.Context, name string, pin bool) error {
	_, release, err := p.Acquire(ctx, name)
	if err != nil {
		return err
	}
	defer release()
	return p.do(ctx, func(s *state) {
		if e := s.models[name]; e != nil && pin {
			s.pin(name, e, true)
		}
	})
}

// Pin sets whether a loaded model is pinned.
func (p *Pool) Pin(name string, pinned bool) error {
	var err error
	if derr := p.do(context.Background(), func(s *state) {
		e := s.models[name]
		if e == nil || e.loading != nil {
			err = fmt.Errorf("model %q is not loaded", name)
			return
		}
		s.pin(name, e, pinned)
	}); derr != nil {
		return derr
	}
	return err
}

// Unload unloads a model now, or, if requests are using it, as soon as the
// last one ends. It reports whether the model was loaded.
func (p *Pool) Unload(name string) (bool, error) {
	var found bool
	err := p.do(context.Background(), func(s *state) { found = s.unload(name) })
	return found, err
}

// SetLimits changes the memory budget and the idle TTL; models over a
// smaller budget are evicted now if they are idle (a model in use stays
// until its request ends).
func (p *Pool) SetLimits(budget int64, ttl time.Duration) {
	p.do(context.Background(), func(s *state) {
		s.pool.opts.Budget, s.pool.opts.IdleTTL = budget, ttl
		s.fitBudget()
	})
}

// Fit asks the pool to fit its budget again because a model's memory grew
// while it was in use: idle caches are freed, then idle models evicted,
// until the total fits or nothing idle is left (the model in use keeps
// what it holds). It does not wait, so a request can call it between two
// steps of its computation; calls while one is pending are one call.
func (p *Pool) Fit() {
	select {
	case p.fit <- struct{}{}:
	default:
	}
}

// Status lists the models in memory, by name.
func (p *Pool) Status() []Status {
	var out []Status
	p.do(context.Background(), func(s *state) { out = s.status() })
	return out
}

// Close unloads every model and stops the pool. Call it once requests
// have finished (the server shuts down HTTP first).
func (p *Pool) Close() {
	p.do(context.Background(), func(s *state) { s.closeAll() })
	p.once.Do(func() { close(p.done) })
}
