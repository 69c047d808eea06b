package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/modelbar/modelbar/backend/engine/llama"
)

// The prefix cache. Agents resend the whole conversation on every turn
// (system prompt, tool definitions, every earlier message: often 10-20k
// tokens), so most of a request's prompt is a sequence the model computed
// moments ago. Each loaded model keeps the KV caches of its last few
// sequences after their requests end, each with the tokens it holds; a
// new request starts from the idle cache that shares the longest prefix
// with its prompt, holding that prefix (below: the cache itself,
// truncated, or a copy), and forwards only the rest.
//
// Exactness: a cache holds exactly the tokens it was given (a token is
// recorded only once Forward has stored it, and a failed Forward leaves
// the cache as it was), so a reused prefix holds the keys and values that
// prefilling it again would compute. The last prompt token is always
// forwarded, whatever is cached, because the first logits come from it.
//
// Caches are made for the model's whole context: a follow-up turn is
// longer than the request that made the cache. The backends grow a
// cache's storage as positions are stored, so capacity is not memory;
// Cache.Bytes is, and the memory budget counts it (see loaded's pool
// methods).
//
// Reuse must not destroy another conversation's cache: two agents (or an
// agent and its sub-agent) that share a long system prompt would
// otherwise cut each other's caches back to it on every turn. So the
// shared prefix is copied into a new cache (a copy of keys and values,
// no compute) and the cache it came from stays idle for its own
// conversation, unless that cache holds little beyond the shared prefix
// (see truncateTail): then it is truncated in place, as when a
// conversation continues from its own cache. A copy counts in the memory
// budget like any cache: when it does not fit, the pool frees the least
// recently used idle caches, the copy's source among them, so keeping
// the source never costs another model its place.

// idleCaches bounds the idle caches a loaded model keeps; the least
// recently used goes first (the memory budget may drop them sooner).
const idleCaches = 4

// truncateTail bounds what truncating a cache in place may lose: a taken
// cache is truncated when it holds fewer than truncateTail tokens past
// the prefix the prompt shares, and those are at most a quarter of that
// prefix (the same conversation, rolled back a little or rendered
// slightly differently at its end; a copy would mostly duplicate it).
// Otherwise the prefix is copied. The bound is absolute because copying
// is cheap next to computing: copying a 15k-token prefix moves memory,
// while losing even a few dozen tokens of another conversation means
// prefilling them again on its next turn. A relative bound alone would
// let two agents whose own parts are small next to a 15k-token system
// prompt truncate each other on every turn.
const truncateTail = 64

// noteEvery is how many prompt tokens a sequence forwards between two
// reports of its cache's memory (a long prefill grows the cache by
// hundreds of MB). A multiple of llama's prefill chunk, so splitting
// there computes exactly what one Forward would.
const noteEvery = 1024

// prefixes holds one loaded model's KV caches: the idle ones, kept for
// reuse, and those requests are using. Safe for concurrent use: requests
// take and give back caches while the pool asks for their memory and
// drops idle ones from its own goroutine.
type prefixes struct {
	model     *llama.Model
	positions int // each cache's capacity: the model's context length
	now       func() time.Time
	// grew, when set, is told (outside the lock) that a cache's memory
	// grew, so the pool can fit its budget again during a long prefill.
	grew func()

	mu      sync.Mutex
	maxIdle int         // guarded by mu: idle caches kept; 0 disables reuse
	idle    []*sequence // guarded by mu: least recently used first
	active  []*sequence // guarded by mu: taken by requests
	closed  bool        // guarded by mu: the model is unloading

	// freeing counts the caches dropIdle detached and is still freeing
	// on goroutines of their own; close waits for them.
	freeing sync.WaitGroup
}

func newPrefixes(m *llama.Model, positions int) *prefixes {
	return &prefixes{model: m, positions: positions, now: time.Now, maxIdle: idleCaches}
}

// sequence is one KV cache and the tokens it holds; it adapts the cache
// to generate.Model. The request that took it is its only user until it
// gives it back.
type sequence struct {
	p      *prefixes
	cache  *llama.Cache
	tokens []int     // the tokens cache holds, in order: len = cache.Len()
	bytes  int64     // guarded by p.mu: cache.Bytes() when last noted
	used   time.Time // guarded by p.mu: when it was last given back
}

func (s *sequence) ContextLength() int { return s.cache.MaxLen() }

// Forward runs tokens after those the cache holds, noting the cache's
// memory every noteEvery tokens, and records each token once it is stored.
func (s *sequence) Forward(ctx context.Context, tokens []int) ([]float32, error) {
	var logits []float32
	for start := 0; start < len(tokens); start += noteEvery {
		part := tokens[start:min(start+noteEvery, len(tokens))]
		var err error
		if logits, err = s.p.model.ForwardContext(ctx, part, s.cache); err != nil {
			return nil, err
		}
		s.tokens = append(s.tokens, part...)
		s.p.note(s)
	}
	return logits, nil
}

// take returns a cache for prompt and how many of its first tokens the
// cache already holds (at most len(prompt)-1): the idle cache sharing the
// longest prefix with prompt, truncated to it when it holds little more
// (truncateTail), else a copy of that prefix; a new cache when no idle
// cache shares anything.
func (p *prefixes) take(prompt []int) (*sequence, int, error) {
	p.mu.Lock()
	best, keep := -1, 0
	for i, s := range p.idle {
		n := min(commonPrefix(s.tokens, prompt), len(prompt)-1)
		if n > 0 && n >= keep { // ties: the most recent
			best, keep = i, n
		}
	}
	var s *sequence
	if best >= 0 {
		s = p.idle[best]
		p.idle = slices.Delete(p.idle, best, best+1)
		p.active = append(p.active, s)
	}
	p.mu.Unlock()
	if s == nil {
		return p.fresh()
	}
	if tail := len(s.tokens) - keep; tail >= truncateTail || 4*tail > keep {
		return p.copyOf(s, keep)
	}
	if err := s.cache.Truncate(keep); err != nil {
		p.put(s, false)
		return nil, 0, err
	}
	s.tokens = s.tokens[:keep]
	return s, keep, nil
}

// copyOf makes a new cache holding the first n tokens of src, a cache
// taken from the idle ones, and gives src back to them in its old place
// in their order: making a copy is no use of what only src holds.
func (p *prefixes) copyOf(src *sequence, n int) (*sequence, int, error) {
	c, err := src.cache.CopyPrefix(n)
	tokens := slices.Clone(src.tokens[:n])
	p.giveBack(src, true, false)
	if err != nil {
		return nil, 0, err
	}
	s := &sequence{p: p, cache: c, tokens: tokens, bytes: c.Bytes()}
	p.mu.Lock()
	p.active = append(p.active, s)
	p.mu.Unlock()
	p.tellGrew()
	return s, n, nil
}

// fresh makes a cache for the model's context.
func (p *prefixes) fresh() (*sequence, int, error) {
	c, err := p.model.NewCache(p.positions)
	if err != nil {
		return nil, 0, err
	}
	s := &sequence{p: p, cache: c, bytes: c.Bytes()}
	p.mu.Lock()
	p.active = append(p.active, s)
	p.mu.Unlock()
	p.tellGrew()
	return s, 0, nil
}

// put gives a taken cache back: kept for reuse (the least recently used
// idle cache beyond maxIdle is freed) when keep is set and it holds
// anything, freed otherwise. A request gives its cache back whatever
// happened: what the cache holds is exact even after a cancelled Forward;
// after any other error the caller passes keep false.
func (p *prefixes) put(s *sequence, keep bool) { p.giveBack(s, keep, true) }

// giveBack is put; used says whether the cache counts as used now (a
// request ran on it) or keeps the place in the idle order it had.
func (p *prefixes) giveBack(s *sequence, keep, used bool) {
	var free []*sequence
	p.mu.Lock()
	p.active = slices.DeleteFunc(p.active, func(a *sequence) bool { return a == s })
	if keep && !p.closed && len(s.tokens) > 0 && p.maxIdle > 0 {
		if used {
			s.used = p.now()
		}
		free = p.addIdle(s)
	} else {
		free = append(free, s)
	}
	p.mu.Unlock()
	for _, f := range free {
		f.cache.Close()
	}
}

// addIdle puts s among the idle caches in the order of their use and
// returns those beyond maxIdle, the least recently used, which it
// removes. The caller holds p.mu.
func (p *prefixes) addIdle(s *sequence) []*sequence {
	i := len(p.idle)
	for i > 0 && p.idle[i-1].used.After(s.used) {
		i--
	}
	p.idle = slices.Insert(p.idle, i, s)
	n := len(p.idle) - p.maxIdle
	if n <= 0 {
		return nil
	}
	free := slices.Clone(p.idle[:n])
	p.idle = slices.Delete(p.idle, 0, n)
	return free
}

// note records the memory of a taken cache (read by the goroutine using
// it, between Forwards) and tells grew when it grew.
func (p *prefixes) note(s *sequence) {
	b := s.cache.Bytes()
	p.mu.Lock()
	grew := b > s.bytes
	s.bytes = b
	p.mu.Unlock()
	if grew {
		p.tellGrew()
	}
}

func (p *prefixes) tellGrew() {
	if p.grew != nil {
		p.grew()
	}
}

// bytes is the memory of every cache, taken or idle, as last noted.
func (p *prefixes) bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, s := range p.idle {
		n += s.bytes
	}
	for _, s := range p.active {
		n += s.bytes
	}
	return n
}

// oldestIdle is when the least recently used idle cache was given back.
func (p *prefixes) oldestIdle() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) == 0 {
		return time.Time{}, false
	}
	return p.idle[0].used, true
}

// dropIdle frees the least recently used idle cache, reporting whether
// there was one. It does not wait for the backend: the pool calls it from
// its goroutine, which must not stall behind a compute step (a prefill
// chunk holds the backend for seconds on a CPU). The cache leaves the
// idle set, and its bytes the accounting, at once; its backend memory is
// freed by a goroutine of its own as soon as the backend is free, so for
// up to one backend step the memory in use exceeds what bytes reports by
// that cache. close waits for those frees.
func (p *prefixes) dropIdle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) == 0 {
		return false
	}
	s := p.idle[0]
	p.idle = p.idle[1:]
	p.freeing.Go(func() { s.cache.Close() })
	return true
}

// close frees the idle caches, waits for those dropIdle is freeing and
// keeps none from now on (the model is unloading; no request is using
// it). The model's own Close must come after it.
func (p *prefixes) close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	var errs []error
	for _, s := range idle {
		errs = append(errs, s.cache.Close())
	}
	p.freeing.Wait()
	return errors.Join(errs...)
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b []int) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
