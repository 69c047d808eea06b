package pool

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// entry is one model in memory or on its way there.
type entry struct {
	model    Model
	memory   int64 // the estimate, until the model is loaded
	pinned   bool
	inUse    int
	lastUsed time.Time
	// loading is non-nil while the model loads and closed when the load
	// ends; err (set before the close) says how it ended.
	loading  chan struct{}
	err      error
	waiting  int  // requests waiting for the load
	unloadAt bool // unload as soon as nobody uses it
}

// state is owned by the pool's goroutine: nothing else touches it.
type state struct {
	pool   *Pool
	models map[string]*entry
}

func (s *state) run() {
	tick := time.NewTicker(s.pool.opts.Tick)
	defer tick.Stop()
	for {
		select {
		case f := <-s.pool.reqs:
			f(s)
		case <-s.pool.fit:
			s.fitBudget()
		case <-tick.C:
			s.expire()
		case <-s.pool.done:
			return
		}
	}
}

func (s *state) now() time.Time { return s.pool.opts.Now() }

// changed tells Options.OnChange.
func (s *state) changed(name string, k Kind) {
	if f := s.pool.opts.OnChange; f != nil {
		f(Change{Model: name, Kind: k})
	}
}

// pin sets whether a model is pinned, telling of a change.
func (s *state) pin(name string, e *entry, pinned bool) {
	if e.pinned == pinned {
		return
	}
	e.pinned = pinned
	if pinned {
		s.changed(name, Pinned)
	} else {
		s.changed(name, Unpinned)
	}
}

// acquire returns the model (marked in use), or the entry of a load under
// way to wait for, or an error.
func (s *state) acquire(name string) (Model, *entry, error) {
	if e := s.models[name]; e != nil {
		if e.loading != nil {
			e.waiting++
			return nil, e, nil
		}
		e.inUse++
		e.lastUsed = s.now()
		return e.model, nil, nil
	}
	size, err := s.pool.loader.Estimate(name)
	if err != nil {
		return nil, nil, err
	}
	if size > s.pool.opts.Budget {
		return nil, nil, fmt.Errorf("%w: %s needs about %s, the budget is %s", ErrTooLarge, name, mib(size), mib(s.pool.opts.Budget))
	}
	if err := s.makeRoom(name, size); err != nil {
		return nil, nil, err
	}
	e := &entry{memory: size, loading: make(chan struct{}), lastUsed: s.now(), waiting: 1}
	s.models[name] = e
	s.changed(name, Loading)
	go func() {
		m, err := s.pool.loader.Load(context.Background(), name)
		s.pool.do(context.Background(), func(s *state) { s.loaded(name, e, m, err) })
		if err == nil && m != nil {
			select {
			case <-s.pool.done: // closed meanwhile: nobody owns it
				m.Close()
			default:
			}
		}
	}()
	return nil, e, nil
}

// loaded ends a load.
func (s *state) loaded(name string, e *entry, m Model, err error) {
	if err != nil {
		e.err = fmt.Errorf("load %s: %w", name, err)
		delete(s.models, name)
		s.changed(name, LoadFailed)
	} else {
		// Every waiting request becomes a user at once, so nothing can
		// evict the model between its load and their use of it.
		e.model, e.inUse, e.lastUsed = m, e.waiting, s.now()
		s.changed(name, Loaded)
	}
	close(e.loading)
	e.loading, e.waiting = nil, 0
	if e.err == nil && e.unloadAt && e.inUse == 0 {
		s.drop(name, e, Unloaded)
	}
}

// makeRoom frees idle caches, then evicts idle, unpinned models, least
// recently used first, until size more bytes fit the budget.
func (s *state) makeRoom(name string, size int64) error {
	for s.used()+size > s.pool.opts.Budget {
		if !s.freeOne() {
			return fmt.Errorf("%w: %s needs about %s, %s of %s is taken", ErrNoRoom, name, mib(size), mib(s.used()), mib(s.pool.opts.Budget))
		}
	}
	return nil
}

// freeOne frees the least recently used idle cache of any loaded model,
// or if there is none evicts the least recently used idle model; it
// reports whether it freed anything.
func (s *state) freeOne() bool {
	if s.dropIdleCache() {
		return true
	}
	victim, e := s.lru()
	if e == nil {
		return false
	}
	s.drop(victim, e, Evicted)
	return true
}

// dropIdleCache frees the least recently used idle cache across models.
func (s *state) dropIdleCache() bool {
	var oldest Caches
	var at time.Time
	for _, e := range s.models {
		c, ok := e.model.(Caches)
		if !ok || e.loading != nil {
			continue
		}
		if t, ok := c.OldestIdleCache(); ok && (oldest == nil || t.Before(at)) {
			oldest, at = c, t
		}
	}
	return oldest != nil && oldest.DropIdleCache()
}

// used is what the models hold now (the estimate of those loading).
func (s *state) used() int64 {
	var n int64
	for _, e := range s.models {
		n += e.bytes()
	}
	return n
}

func (e *entry) bytes() int64 {
	if e.loading != nil || e.model == nil {
		return e.memory
	}
	return e.model.MemoryBytes()
}

// lru is the least recently used model that may be evicted.
func (s *state) lru() (string, *entry) {
	var name string
	var oldest *entry
	for n, e := range s.models {
		if e.loading != nil || e.pinned || e.inUse > 0 {
			continue
		}
		if oldest == nil || e.lastUsed.Before(oldest.lastUsed) || (e.lastUsed.Equal(oldest.lastUsed) && n < name) {
			name, oldest = n, e
		}
	}
	return name, oldest
}

func (s *state) release(name string) {
	e := s.models[name]
	if e == nil {
		return
	}
	e.inUse--
	e.lastUsed = s.now()
	if e.inUse == 0 && e.unloadAt {
		s.drop(name, e, Unloaded)
	}
	s.fitBudget() // a budget that shrank while models were busy
}

// abandon is a waiter giving up: before the load ends it no longer
// counts; after, it releases the use the load gave it.
func (s *state) abandon(name string, e *entry) {
	switch {
	case e.loading != nil:
		e.waiting--
	case e.err == nil && s.models[name] == e:
		s.release(name)
	}
}

// fitBudget frees idle caches, then evicts idle models, while the loaded
// ones exceed the budget.
func (s *state) fitBudget() {
	for s.used() > s.pool.opts.Budget && s.freeOne() {
	}
}

func (s *state) unload(name string) bool {
	e := s.models[name]
	if e == nil {
		return false
	}
	if e.loading != nil || e.inUse > 0 {
		e.unloadAt = true
		return true
	}
	s.drop(name, e, Unloaded)
	return true
}

// expire unloads models idle longer than the TTL.
func (s *state) expire() {
	ttl := s.pool.opts.IdleTTL
	if ttl <= 0 {
		return
	}
	for name, e := range s.models {
		if e.loading == nil && !e.pinned && e.inUse == 0 && s.now().Sub(e.lastUsed) >= ttl {
			s.drop(name, e, Expired)
		}
	}
}

// drop unloads a model, telling why.
func (s *state) drop(name string, e *entry, why Kind) {
	delete(s.models, name)
	if e.model != nil {
		e.model.Close()
	}
	s.changed(name, why)
}

func (s *state) closeAll() {
	for name, e := range s.models {
		if e.loading == nil {
			s.drop(name, e, Unloaded)
		}
	}
}

func (s *state) status() []Status {
	out := make([]Status, 0, len(s.models))
	for name, e := range s.models {
		var caches int64
		if c, ok := e.model.(Caches); ok && e.loading == nil {
			caches = c.CacheBytes()
		}
		out = append(out, Status{Name: name, Memory: e.bytes(), Caches: caches, Pinned: e.pinned, InUse: e.inUse, Loading: e.loading != nil, Waiting: e.waiting, LastUsed: e.lastUsed})
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }
