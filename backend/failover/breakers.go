package failover

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Key names what a breaker guards: the pair (Provider, Model), or with
// Model "" the provider as a whole.
type Key struct {
	Provider string
	Model    string
}

func (k Key) scope() Scope {
	if k.Model == "" {
		return ScopeProvider
	}
	return ScopeModel
}

// Breakers cool down what keeps failing: a circuit breaker per pair
// (provider, upstream model) for model-level faults and one per provider
// for transport faults (see Scope). After threshold failed requests in a
// row a breaker opens for the cooldown; then one request probes it
// (half-open), and its success closes it, its failure opens it again. A
// success of any model of a provider also closes the provider's breaker
// (its transport works), and so does a model-level failure (the provider
// answered). Only inference requests count: listings and token counts
// never open one.
//
// Safe for concurrent use. The zero value is not ready: use NewBreakers.
type Breakers struct {
	now        func() time.Time
	maxTracked int

	mu       sync.Mutex // guards state and onChange
	state    map[Key]*breaker
	onChange func() // OnChange's
}

type breaker struct {
	failures int         // failed requests in a row
	until    time.Time   // open until then; zero while closed
	probing  bool        // a half-open probe is in flight
	reason   string      // the failure that opened it (or the latest one)
	last     time.Time   // the latest failure
	expiry   *time.Timer // tells OnChange when the cooldown ends; nil without an observer
}

// maxTracked bounds the breakers kept: model names come from clients, and
// a wildcard route to a failing provider must not let them grow the map.
const maxTracked = 4096

// NewBreakers returns breakers that are all closed. now may be nil (the
// wall clock).
func NewBreakers(now func() time.Time) *Breakers {
	if now == nil {
		now = time.Now
	}
	return &Breakers{now: now, maxTracked: maxTracked, state: map[Key]*breaker{}}
}

// OnChange sets f to be called after every change Status shows: a failure
// counted, a breaker opened or closed (by a success or by hand), a
// cooldown's end reached. It runs on the goroutine that made the change
// (a timer's for a cooldown's end), after the breakers' lock is released,
// so it may call Status; it should return quickly. Set it before use.
func (b *Breakers) OnChange(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onChange = f
}

// changed returns the observer to call once the lock is released (a no-op
// without one).
func (b *Breakers) changed() func() {
	if b.onChange == nil {
		return func() {}
	}
	return b.onChange
}

// remove deletes a breaker and stops its timer; it reports whether there
// was one. Called with mu held.
func (b *Breakers) remove(k Key) bool {
	st := b.state[k]
	if st == nil {
		return false
	}
	if st.expiry != nil {
		st.expiry.Stop()
	}
	delete(b.state, k)
	return true
}

// Ticket is one request's admission to a (provider, model): the half-open
// probes it holds, which its outcome settles (Succeeded, Failed or
// Abandon).
type Ticket struct {
	Provider, Model string
	probes          []Key
}

// Probe reports whether the request probes a breaker that was open.
func (t Ticket) Probe() bool { return len(t.probes) > 0 }

// Admit reports whether a request for model may go to provider now. It is
// refused while the provider's or the pair's breaker is open, or while
// another request probes it; the Cooldown says which and until when. With
// force (the last candidate of a chain, which is always tried) it is
// admitted anyway. A breaker whose cooldown has passed admits one probe.
func (b *Breakers) Admit(provider, model string, force bool) (Ticket, *Cooldown) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	t := Ticket{Provider: provider, Model: model}
	var probes []Key
	for _, k := range []Key{{provider, ""}, {provider, model}} {
		st := b.state[k]
		switch {
		case st == nil || st.until.IsZero():
			continue
		case (now.Before(st.until) || st.probing) && !force:
			c := b.cooldown(k, st, now)
			return Ticket{}, &c
		case !now.Before(st.until) && !st.probing:
			probes = append(probes, k)
		}
	}
	for _, k := range probes {
		b.state[k].probing = true
	}
	t.probes = probes
	return t, nil
}

// Cooling reports whether requests for model at provider are held off
// now: the provider's or the pair's breaker is open, or a probe of it is
// in flight. A breaker whose cooldown has passed with no probe under way
// is not cooling — the next request probes it — so a member that
// recovered gets traffic again. It changes nothing.
func (b *Breakers) Cooling(provider, model string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.state) == 0 {
		return false
	}
	now := b.now()
	for _, k := range [2]Key{{provider, ""}, {provider, model}} {
		if st := b.state[k]; st != nil && !st.until.IsZero() && (st.probing || now.Before(st.until)) {
			return true
		}
	}
	return false
}

// Succeeded closes the pair's and the provider's breakers: the backend
// answered (or its answer has begun).
func (b *Breakers) Succeeded(t Ticket) {
	b.mu.Lock()
	provider := b.remove(Key{t.Provider, ""})
	model := b.remove(Key{t.Provider, t.Model})
	tell := b.changed()
	b.mu.Unlock()
	if provider || model {
		tell()
	}
}

// Abandon ends the ticket's probes without a verdict (the client left, or
// the request was not the backend's to judge).
func (b *Breakers) Abandon(t Ticket) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.release(t)
}

func (b *Breakers) release(t Ticket) {
	for _, k := range t.probes {
		if st := b.state[k]; st != nil {
			st.probing = false
		}
	}
}

// Failed counts one failed request (however many retries it made) against
// the breaker of scope. threshold failures in a row, or a failed probe of
// that breaker, open it for d; threshold 0 never opens one. A model-level
// failure closes the provider's breaker: the provider answered. It returns
// whether the breaker is now open.
func (b *Breakers) Failed(t Ticket, scope Scope, reason string, threshold int, d time.Duration) bool {
	b.mu.Lock()
	counted, opened := b.failed(t, scope, reason, threshold, d)
	b.release(t)
	tell := b.changed()
	b.mu.Unlock()
	if counted {
		tell()
	}
	return opened
}

// failed is Failed with mu held: it reports whether the failure was
// counted and whether the breaker is now open.
func (b *Breakers) failed(t Ticket, scope Scope, reason string, threshold int, d time.Duration) (counted, opened bool) {
	var k Key
	switch scope {
	case ScopeModel:
		k = Key{t.Provider, t.Model}
		b.remove(Key{t.Provider, ""})
	case ScopeProvider:
		k = Key{t.Provider, ""}
	default:
		return false, false
	}
	st := b.state[k]
	if st == nil {
		if len(b.state) >= b.maxTracked && !b.evict() {
			return false, false
		}
		st = &breaker{}
		b.state[k] = st
	}
	now := b.now()
	st.failures++
	st.last, st.reason = now, reason
	if threshold <= 0 || (st.failures < threshold && !slices.Contains(t.probes, k)) {
		return true, false
	}
	st.until = now.Add(d)
	if b.onChange != nil {
		// The view of a cooldown changes when it ends, with no request to
		// say so: a timer does.
		if st.expiry != nil {
			st.expiry.Stop()
		}
		st.expiry = time.AfterFunc(d, b.onChange)
	}
	return true, true
}

// evict drops the closed breaker that failed longest ago, to make room;
// open ones are kept. It reports whether there is room now.
func (b *Breakers) evict() bool {
	var oldest Key
	var found *breaker
	for k, st := range b.state {
		if st.until.IsZero() && !st.probing && (found == nil || st.last.Before(found.last)) {
			oldest, found = k, st
		}
	}
	if found != nil {
		b.remove(oldest)
	}
	return found != nil
}

// Clear closes breakers by hand: with model "" every breaker of the
// provider, else the pair's. It reports whether there was one.
func (b *Breakers) Clear(provider, model string) bool {
	b.mu.Lock()
	found := false
	for k := range b.state {
		if k.Provider == provider && (model == "" || k.Model == model) {
			b.remove(k)
			found = true
		}
	}
	tell := b.changed()
	b.mu.Unlock()
	if found {
		tell()
	}
	return found
}

// Cooldown is one breaker as /api/status, the UI and the tray show it.
type Cooldown struct {
	Provider string `json:"provider"`
	// Backend is Provider, under the name /api/status used before
	// cooldowns had a scope.
	Backend  string    `json:"backend"`
	Model    string    `json:"model,omitempty"` // the upstream model; "" for the whole provider
	Scope    string    `json:"scope"`           // "model" or "provider"
	State    string    `json:"state"`           // "failing" (below the threshold), "cooldown" or "probing"
	Failures int       `json:"consecutive_failures"`
	Until    time.Time `json:"until,omitzero"` // the end of the cooldown
	Reason   string    `json:"reason,omitempty"`
}

func (b *Breakers) cooldown(k Key, st *breaker, now time.Time) Cooldown {
	c := Cooldown{Provider: k.Provider, Backend: k.Provider, Model: k.Model, Scope: k.scope().String(),
		State: "failing", Failures: st.failures, Reason: st.reason}
	switch {
	case st.probing:
		c.State = "probing"
	case !st.until.IsZero() && now.Before(st.until):
		c.State, c.Until = "cooldown", st.until.UTC()
	case !st.until.IsZero():
		c.State = "probing" // the next request probes it
	}
	return c
}

// Status lists the breakers that are failing, cooling down or probing, by
// provider, then model (the provider's own first).
func (b *Breakers) Status() []Cooldown {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	out := make([]Cooldown, 0, len(b.state))
	for k, st := range b.state {
		out = append(out, b.cooldown(k, st, now))
	}
	slices.SortFunc(out, func(a, b Cooldown) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model))
	})
	return out
}
