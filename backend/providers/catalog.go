package providers

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// CatalogOptions configures a Catalog.
type CatalogOptions struct {
	// Wanted names the providers whose lists may be needed now (those
	// that listed routes send to). The catalog's goroutine calls it; it
	// must not block.
	Wanted func() []string
	// Interval is how often a list is fetched again; 0: 10 minutes.
	Interval time.Duration
	// Retry is the wait after a failed fetch, doubled after each failure
	// up to Interval; 0: 30 seconds.
	Retry time.Duration
	// Timeout bounds one fetch, all its pages; 0: 30 seconds.
	Timeout time.Duration
	Log     *slog.Logger
}

// Catalog keeps the model lists of providers, fetched in the background:
// a list is first fetched when someone asks for it (Models), then again
// every Interval, and soon after its provider changes (Refresh). Asking
// never waits for a provider: it answers with the last good list, or with
// none yet. A failed fetch keeps the last good list. Safe for concurrent
// use; Close stops it.
type Catalog struct {
	clients *Registry
	opts    CatalogOptions

	lists atomic.Pointer[map[string][]ModelInfo] // published by run: each provider's last good list
	asked sync.Map                               // provider name -> struct{}: lists someone has asked for

	wake    chan struct{} // capacity 1: look at the providers again
	results chan fetched  // fetches report to run
	cancel  context.CancelFunc
	done    chan struct{} // closed when run has returned
	fetches sync.WaitGroup
	once    sync.Once
}

// fetched is the outcome of one fetch.
type fetched struct {
	provider string
	models   []ModelInfo
	err      error
}

// NewCatalog starts a catalog over the clients of a registry.
func NewCatalog(clients *Registry, opts CatalogOptions) *Catalog {
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Minute
	}
	if opts.Retry <= 0 {
		opts.Retry = 30 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Wanted == nil {
		opts.Wanted = func() []string { return nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Catalog{clients: clients, opts: opts, wake: make(chan struct{}, 1), results: make(chan fetched),
		cancel: cancel, done: make(chan struct{})}
	c.lists.Store(&map[string][]ModelInfo{})
	go c.run(ctx)
	return c
}

// Models returns the provider's last good model list, and whether there is
// one. It never blocks: the first time a list is asked for, its fetch
// starts in the background.
func (c *Catalog) Models(provider string) ([]ModelInfo, bool) {
	if _, loaded := c.asked.LoadOrStore(provider, struct{}{}); !loaded {
		c.Refresh()
	}
	list, ok := (*c.lists.Load())[provider]
	return list, ok
}

// Find returns the entry of the provider's last good list for model, and
// whether the list has it; a preset with tagged names (Ollama) finds
// "llama3.2" as "llama3.2:latest" (Client.ModelKey). Like Models it never
// blocks, and false may mean that no list has come yet.
func (c *Catalog) Find(provider, model string) (ModelInfo, bool) {
	list, ok := c.Models(provider)
	if !ok {
		return ModelInfo{}, false
	}
	key := func(s string) string { return s }
	if cl, ok := c.clients.Get(provider); ok {
		key = cl.ModelKey
	}
	want := key(model)
	for _, m := range list {
		if m.ID == model || key(m.ID) == want {
			return m, true
		}
	}
	return ModelInfo{}, false
}

// Refresh makes the catalog look at its providers again soon: a new or
// changed provider (a new client) has its list fetched at once. It never
// blocks.
func (c *Catalog) Refresh() {
	select {
	case c.wake <- struct{}{}:
	default: // a look is already due
	}
}

// Close stops the catalog and the fetches in flight, and waits for them.
func (c *Catalog) Close() {
	c.once.Do(func() {
		c.cancel()
		<-c.done
		c.fetches.Wait()
	})
}

// listState is what run knows of one provider's list.
type listState struct {
	client   *Client // the client of the last fetch started
	models   []ModelInfo
	listed   bool // models is a good list
	inFlight bool
	failures int       // in a row
	due      time.Time // when the next fetch is due
}

// run owns the lists: it starts the fetches that are due, takes their
// results and publishes the lists, until ctx ends.
func (c *Catalog) run(ctx context.Context) {
	defer close(c.done)
	states := map[string]*listState{}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := c.schedule(ctx, states)
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-timer.C:
		case f := <-c.results:
			c.record(states, f)
		}
	}
}

// schedule drops the providers no longer wanted, starts the fetches that
// are due and returns when the next one is.
func (c *Catalog) schedule(ctx context.Context, states map[string]*listState) time.Time {
	now := time.Now()
	next := now.Add(c.opts.Interval)
	wanted := map[string]*Client{}
	for _, name := range c.opts.Wanted() {
		if _, asked := c.asked.Load(name); !asked {
			continue
		}
		if cl, ok := c.clients.Get(name); ok {
			wanted[name] = cl
		}
	}
	changed := false
	for name, st := range states {
		if wanted[name] == nil && !st.inFlight {
			delete(states, name)
			changed = true
		}
	}
	for name, cl := range wanted {
		st := states[name]
		if st == nil {
			st = &listState{due: now}
			states[name] = st
		}
		if st.inFlight {
			continue
		}
		if st.client != nil && st.client != cl { // the provider changed: fetch again now
			if !sameEndpoint(st.client, cl) && st.listed {
				st.models, st.listed, changed = nil, false, true // another server's list is not this one's
			}
			st.due, st.failures = now, 0
		}
		if !now.Before(st.due) {
			c.fetch(ctx, name, cl, st)
			continue
		}
		if st.due.Before(next) {
			next = st.due
		}
	}
	if changed {
		c.publish(states)
	}
	return next
}

func (c *Catalog) fetch(ctx context.Context, name string, cl *Client, st *listState) {
	st.client, st.inFlight = cl, true
	c.fetches.Add(1)
	go func() {
		defer c.fetches.Done()
		fctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		models, err := cl.ListModels(fctx)
		cancel()
		select {
		case c.results <- fetched{provider: name, models: models, err: err}:
		case <-ctx.Done():
		}
	}()
}

// record takes a fetch's result: a good list replaces the last one; a
// failure keeps it and retries sooner than Interval.
func (c *Catalog) record(states map[string]*listState, f fetched) {
	st := states[f.provider]
	if st == nil {
		return
	}
	st.inFlight = false
	now := time.Now()
	if f.err != nil {
		st.failures++
		wait := c.opts.Retry << min(st.failures-1, 10)
		st.due = now.Add(min(wait, c.opts.Interval))
		level := slog.LevelDebug
		if st.failures == 1 {
			level = slog.LevelInfo
		}
		c.opts.Log.Log(context.Background(), level, "cannot list a provider's models; /v1/models keeps its last list",
			"provider", f.provider, "failures", st.failures, "retry_in", st.due.Sub(now).Round(time.Second).String(), "err", f.err)
		return
	}
	st.models, st.listed, st.failures = f.models, true, 0
	st.due = now.Add(c.opts.Interval)
	c.opts.Log.Debug("listed a provider's models", "provider", f.provider, "models", len(f.models))
	c.publish(states)
}

func (c *Catalog) publish(states map[string]*listState) {
	lists := make(map[string][]ModelInfo, len(states))
	for name, st := range states {
		if st.listed {
			lists[name] = st.models
		}
	}
	c.lists.Store(&lists)
}

// sameEndpoint reports whether two clients of a provider talk to the same
// server in the same API (a new key or max_tokens default keeps the list).
func sameEndpoint(a, b *Client) bool {
	return a.cfg.Type == b.cfg.Type && a.cfg.BaseURL == b.cfg.BaseURL
}
