package pool

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type fakeModel struct {
	name   string
	size   int64
	closed *sync.Map
}

func (m *fakeModel) MemoryBytes() int64 { return m.size }
func (m *fakeModel) Close() error       { m.closed.Store(m.name, true); return nil }

// fakeLoader loads models of fixed sizes; a model in gate waits for its
// channel before loading.
type fakeLoader struct {
	mu     sync.Mutex
	sizes  map[string]int64
	loads  map[string]int
	gate   map[string]chan struct{}
	fail   map[string]error
	closed sync.Map
}

func newLoader(sizes map[string]int64) *fakeLoader {
	return &fakeLoader{sizes: sizes, loads: map[string]int{}, gate: map[string]chan struct{}{}, fail: map[string]error{}}
}

func (l *fakeLoader) Estimate(name string) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size, ok := l.sizes[name]
	if !ok {
		return 0, errors.New("no such model")
	}
	return size, nil
}

func (l *fakeLoader) Load(_ context.Context, name string) (Model, error) {
	l.mu.Lock()
	gate := l.gate[name]
	l.loads[name]++
	err := l.fail[name]
	l.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if err != nil {
		return nil, err
	}
	return &fakeModel{name: name, size: l.sizes[name], closed: &l.closed}, nil
}

func (l *fakeLoader) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.loads[name]
}

func (l *fakeLoader) isClosed(name string) bool {
	_, ok := l.closed.Load(name)
	return ok
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newPool(t *testing.T, l *fakeLoader, budget int64, ttl time.Duration) (*Pool, *clock) {
	t.Helper()
	c := &clock{t: time.Unix(1000, 0)}
	p := New(l, Options{Budget: budget, IdleTTL: ttl, Now: c.now, Tick: time.Hour})
	t.Cleanup(p.Close)
	return p, c
}

func names(st []Status) []string {
	var out []string
	for _, s := range st {
		out = append(out, s.Name)
	}
	return out
}

func TestPool_LoadsOnceEvictsLRUAndKeepsPinned(t *testing.T) {
	l := newLoader(map[string]int64{"a": 40, "b": 40, "c": 40, "huge": 200})
	p, c := newPool(t, l, 100, 0)
	ctx := context.Background()
	use := func(name string) {
		t.Helper()
		_, release, err := p.Acquire(ctx, name)
		if err != nil {
			t.Fatalf("acquire %s: %v", name, err)
		}
		c.advance(time.Second)
		release()
	}
	use("a")
	use("a")
	if n := l.count("a"); n != 1 {
		t.Errorf("a loaded %d times, want 1", n)
	}
	use("b")
	use("a") // a is now more recent than b
	use("c") // needs room: b is the least recently used
	if got := names(p.Status()); len(got) != 2 || got[0] != "a" || got[1] != "c" || !l.isClosed("b") {
		t.Errorf("after loading c: %v (b closed: %v), want a and c", got, l.isClosed("b"))
	}
	if err := p.Pin("a", true); err != nil {
		t.Fatal(err)
	}
	use("b") // a is pinned, so c goes
	if got := names(p.Status()); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("after loading b with a pinned: %v", got)
	}
	if _, _, err := p.Acquire(ctx, "huge"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge: %v, want ErrTooLarge", err)
	}
	if _, _, err := p.Acquire(ctx, "nope"); err == nil {
		t.Error("unknown model acquired")
	}
}

// A model in use is never evicted nor unloaded under its request.
func TestPool_NeverDropsAModelInUse(t *testing.T) {
	l := newLoader(map[string]int64{"a": 60, "b": 60})
	p, _ := newPool(t, l, 100, 0)
	ctx := context.Background()
	_, releaseA, err := p.Acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Acquire(ctx, "b"); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("b while a is in use: %v, want ErrNoRoom", err)
	}
	if found, err := p.Unload("a"); !found || err != nil {
		t.Fatalf("unload a: %v %v", found, err)
	}
	if l.isClosed("a") {
		t.Fatal("a closed while in use")
	}
	releaseA()
	releaseA() // a second release is harmless
	if !l.isClosed("a") || len(p.Status()) != 0 {
		t.Errorf("a not unloaded after its request ended: %v", p.Status())
	}
	if _, release, err := p.Acquire(ctx, "b"); err != nil {
		t.Errorf("b after a left: %v", err)
	} else {
		release()
	}
}

// Concurrent first requests share one load; a failed load reaches them all
// and the next request tries again.
func TestPool_ConcurrentRequestsShareOneLoad(t *testing.T) {
	l := newLoader(map[string]int64{"a": 10})
	l.gate["a"] = make(chan struct{})
	l.fail["a"] = errors.New("corrupt weights")
	p, _ := newPool(t, l, 100, 0)
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			_, _, err := p.Acquire(context.Background(), "a")
			errs <- err
		}()
	}
	for st := p.Status(); len(st) == 0 || st[0].Waiting < 5; st = p.Status() {
		time.Sleep(time.Millisecond) // until all five wait on the one load
	}
	close(l.gate["a"])
	for range 5 {
		if err := <-errs; err == nil || !errors.Is(err, l.fail["a"]) {
			t.Errorf("waiter got %v, want the load error", err)
		}
	}
	if n := l.count("a"); n != 1 {
		t.Errorf("%d loads for 5 concurrent requests, want 1", n)
	}
	l.mu.Lock()
	delete(l.fail, "a")
	delete(l.gate, "a")
	l.mu.Unlock()
	if _, release, err := p.Acquire(context.Background(), "a"); err != nil {
		t.Errorf("retry after a failed load: %v", err)
	} else {
		release()
	}
}

func TestPool_IdleTTL(t *testing.T) {
	l := newLoader(map[string]int64{"a": 10, "b": 10})
	p, c := newPool(t, l, 100, 30*time.Minute)
	ctx := context.Background()
	for _, name := range []string{"a", "b"} {
		if err := p.Load(ctx, name, name == "b"); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(29 * time.Minute)
	p.do(ctx, func(s *state) { s.expire() })
	if len(p.Status()) != 2 {
		t.Fatalf("unloaded before the TTL: %v", names(p.Status()))
	}
	c.advance(2 * time.Minute)
	p.do(ctx, func(s *state) { s.expire() })
	if got := names(p.Status()); len(got) != 1 || got[0] != "b" || !l.isClosed("a") {
		t.Errorf("after the TTL: %v, want only the pinned b", got)
	}
}

func TestPool_CancelledWaiterLeavesTheLoadRunning(t *testing.T) {
	l := newLoader(map[string]int64{"a": 10})
	l.gate["a"] = make(chan struct{})
	p, _ := newPool(t, l, 100, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, _, err := p.Acquire(ctx, "a")
		done <- err
	}()
	for len(p.Status()) == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	close(l.gate["a"])
	_, release, err := p.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if n := l.count("a"); n != 1 {
		t.Errorf("%d loads, want 1", n)
	}
}

func TestPool_CloseUnloadsEverything(t *testing.T) {
	l := newLoader(map[string]int64{"a": 10})
	p := New(l, Options{Budget: 100})
	if err := p.Load(context.Background(), "a", true); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close()
	if !l.isClosed("a") {
		t.Error("a not closed")
	}
	if _, _, err := p.Acquire(context.Background(), "a"); !errors.Is(err, ErrClosed) {
		t.Errorf("acquire after close: %v", err)
	}
}

func TestPool_SetLimitsShrinksTheBudget(t *testing.T) {
	l := newLoader(map[string]int64{"a": 40, "b": 40})
	p, c := newPool(t, l, 100, 0)
	for _, name := range []string{"a", "b"} {
		_, release, err := p.Acquire(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		c.advance(time.Second)
		release()
	}
	p.SetLimits(50, time.Minute)
	if got := names(p.Status()); len(got) != 1 || got[0] != "b" || !l.isClosed("a") {
		t.Errorf("after shrinking to 50: %v, want only the more recent b", got)
	}
}

// changeLog records what a pool's OnChange hears.
type changeLog struct {
	mu  sync.Mutex
	got []Change
}

func (c *changeLog) add(ch Change) { c.mu.Lock(); c.got = append(c.got, ch); c.mu.Unlock() }

// take returns what was heard since the last take.
func (c *changeLog) take() []Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.got
	c.got = nil
	return out
}

// Every change of state is told, in order, with why a model left.
func TestPool_OnChangeTellsEveryChange(t *testing.T) {
	l := newLoader(map[string]int64{"a": 60, "b": 60, "c": 10})
	l.fail["bad"] = errors.New("corrupt weights")
	l.sizes["bad"] = 1
	c := &clock{t: time.Unix(1000, 0)}
	var log changeLog
	p := New(l, Options{Budget: 100, IdleTTL: time.Minute, Now: c.now, Tick: time.Hour, OnChange: log.add})
	t.Cleanup(p.Close)
	ctx := context.Background()
	steps := []struct {
		name string
		do   func() error
		want []Change
	}{
		{"load a pinned", func() error { return p.Load(ctx, "a", true) },
			[]Change{{"a", Loading}, {"a", Loaded}, {"a", Pinned}}},
		{"pin a again", func() error { return p.Pin("a", true) }, nil},
		{"unpin a", func() error { return p.Pin("a", false) }, []Change{{"a", Unpinned}}},
		{"load b evicts a", func() error { c.advance(time.Second); return p.Load(ctx, "b", false) },
			[]Change{{"a", Evicted}, {"b", Loading}, {"b", Loaded}}},
		{"a load that fails", func() error {
			if err := p.Load(ctx, "bad", false); err == nil {
				return errors.New("bad loaded")
			}
			return nil
		}, []Change{{"bad", Loading}, {"bad", LoadFailed}}},
		{"unload b", func() error { _, err := p.Unload("b"); return err }, []Change{{"b", Unloaded}}},
		{"c idles out", func() error {
			if err := p.Load(ctx, "c", false); err != nil {
				return err
			}
			c.advance(2 * time.Minute)
			return p.do(ctx, func(s *state) { s.expire() })
		}, []Change{{"c", Loading}, {"c", Loaded}, {"c", Expired}}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		p.Status() // the pool's goroutine has told everything before it answers this
		if got := log.take(); !slices.Equal(got, st.want) {
			t.Errorf("%s: changes %v, want %v", st.name, got, st.want)
		}
	}
}

// cachedModel is a model with caches: weights, idle caches (oldest
// first) and the bytes of the caches requests use.
type cachedModel struct {
	name    string
	weights int64
	mu      sync.Mutex
	idle    []fakeCache
	active  int64
	dropped *[]string // every model's dropped caches, in order (guarded by mu of the test's loader)
	dropMu  *sync.Mutex
	closed  bool
}

type fakeCache struct {
	name  string
	bytes int64
	used  time.Time
}

var _ Caches = (*cachedModel)(nil)

func (m *cachedModel) MemoryBytes() int64 { return m.weights + m.CacheBytes() }
func (m *cachedModel) Close() error       { m.mu.Lock(); m.closed = true; m.mu.Unlock(); return nil }

func (m *cachedModel) CacheBytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.active
	for _, c := range m.idle {
		n += c.bytes
	}
	return n
}

func (m *cachedModel) OldestIdleCache() (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.idle) == 0 {
		return time.Time{}, false
	}
	return m.idle[0].used, true
}

func (m *cachedModel) DropIdleCache() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.idle) == 0 {
		return false
	}
	m.dropMu.Lock()
	*m.dropped = append(*m.dropped, m.idle[0].name)
	m.dropMu.Unlock()
	m.idle = m.idle[1:]
	return true
}

func (m *cachedModel) setActive(n int64) { m.mu.Lock(); m.active = n; m.mu.Unlock() }

func (m *cachedModel) isClosed() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.closed }

// cacheLoader loads the cachedModels it was made with.
type cacheLoader struct {
	models  map[string]*cachedModel
	mu      sync.Mutex
	dropped []string
}

func newCacheLoader(models ...*cachedModel) *cacheLoader {
	l := &cacheLoader{models: map[string]*cachedModel{}}
	for _, m := range models {
		m.dropped, m.dropMu = &l.dropped, &l.mu
		l.models[m.name] = m
	}
	return l
}

func (l *cacheLoader) Estimate(name string) (int64, error) {
	if m := l.models[name]; m != nil {
		return m.weights, nil
	}
	return 0, errors.New("no such model")
}

func (l *cacheLoader) Load(_ context.Context, name string) (Model, error) { return l.models[name], nil }

func (l *cacheLoader) drops() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.dropped)
}

// Room is made by freeing idle caches, least recently used first across
// models, before any idle model is evicted.
func TestPool_FreesIdleCachesBeforeModels(t *testing.T) {
	at := func(s int64) time.Time { return time.Unix(s, 0) }
	a := &cachedModel{name: "a", weights: 40, idle: []fakeCache{{"a1", 10, at(1)}, {"a3", 10, at(3)}}}
	b := &cachedModel{name: "b", weights: 40, idle: []fakeCache{{"b2", 10, at(2)}}}
	c := &cachedModel{name: "c", weights: 30}
	d := &cachedModel{name: "d", weights: 50}
	l := newCacheLoader(a, b, c, d)
	clk := &clock{t: time.Unix(1000, 0)}
	p := New(l, Options{Budget: 130, Now: clk.now, Tick: time.Hour})
	t.Cleanup(p.Close)
	use := func(name string) {
		t.Helper()
		_, release, err := p.Acquire(context.Background(), name)
		if err != nil {
			t.Fatalf("acquire %s: %v", name, err)
		}
		clk.advance(time.Second)
		release()
	}
	use("a")
	use("b") // 110 of 130
	if st := p.Status(); st[0].Memory != 60 || st[0].Caches != 20 || st[1].Memory != 50 || st[1].Caches != 10 {
		t.Errorf("status %+v", st)
	}
	use("c") // 30 more: the oldest cache goes
	if diff := cmp.Diff([]string{"a1"}, l.drops()); diff != "" || a.isClosed() || b.isClosed() {
		t.Errorf("after c: drops (-want +got):\n%s; a closed %v, b closed %v", diff, a.isClosed(), b.isClosed())
	}
	use("d") // 50 more: every cache, then the least recently used model
	if diff := cmp.Diff([]string{"a1", "b2", "a3"}, l.drops()); diff != "" || !a.isClosed() || b.isClosed() {
		t.Errorf("after d: drops (-want +got):\n%s; a closed %v, b closed %v", diff, a.isClosed(), b.isClosed())
	}
	if got := names(p.Status()); !slices.Equal(got, []string{"b", "c", "d"}) {
		t.Errorf("loaded %v, want b, c, d", got)
	}
}

// A model whose caches grow during a request asks the pool to fit again:
// the others' idle caches go, then idle models; the caches in use and the
// model using them stay, even over the budget.
func TestPool_FitAfterGrowth(t *testing.T) {
	a := &cachedModel{name: "a", weights: 40}
	b := &cachedModel{name: "b", weights: 20, idle: []fakeCache{{"b1", 10, time.Unix(1, 0)}}}
	l := newCacheLoader(a, b)
	p := New(l, Options{Budget: 100, Tick: time.Hour})
	t.Cleanup(p.Close)
	_, release, err := p.Acquire(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	release()
	_, release, err = p.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	eventually := func(what string, ok func([]Status) bool) {
		t.Helper()
		for range 200 {
			p.Fit()
			if st := p.Status(); ok(st) {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s: status %+v, drops %v", what, p.Status(), l.drops())
	}
	a.setActive(35) // 75 + 30: b's cache goes, and that is enough
	eventually("a at 75", func(st []Status) bool { return len(l.drops()) == 1 && len(st) == 2 })
	a.setActive(50) // 90 + 20: b goes
	eventually("a at 90", func(st []Status) bool { return len(st) == 1 && st[0].Name == "a" && b.isClosed() })
	a.setActive(80) // 120, alone and in use: it stays
	eventually("a at 120", func(st []Status) bool { return len(st) == 1 && st[0].Memory == 120 && st[0].Caches == 80 })
	if a.isClosed() {
		t.Error("the model in use was closed")
	}
}
