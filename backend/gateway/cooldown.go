package gateway

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// breakers puts a backend that keeps failing in cooldown (a circuit
// breaker per backend): after n consecutive failures it is skipped for the
// cooldown period; then one request probes it (half-open) and its success
// restores the backend, its failure starts another cooldown. Only
// inference attempts count: model listings and count_tokens never open
// it. Safe for concurrent use.
type breakers struct {
	now func() time.Time

	mu    sync.Mutex // guards state
	state map[string]*breaker
}

type breaker struct {
	failures int       // consecutive failures
	until    time.Time // open until then; zero when closed
	probing  bool      // a half-open probe is in flight
	reason   string    // the failure that opened it
}

func newBreakers() *breakers {
	return &breakers{now: time.Now, state: map[string]*breaker{}}
}

// admit reports whether a request may go to backend now. A backend whose
// cooldown has passed admits one probe at a time; probe is true for it,
// and the caller must report its outcome (succeeded, failed or abandoned).
func (b *breakers) admit(backend string) (ok, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.state[backend]
	switch {
	case st == nil || st.until.IsZero():
		return true, false
	case b.now().Before(st.until) || st.probing:
		return false, false
	}
	st.probing = true
	return true, true
}

// succeeded closes backend's breaker.
func (b *breakers) succeeded(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.state, backend)
}

// abandoned ends a probe without a verdict (the client left).
func (b *breakers) abandoned(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.state[backend]; st != nil {
		st.probing = false
	}
}

// failed counts a failure of backend. threshold failures in a row (or a
// failed probe) open a cooldown of d, or of hold when the backend asked
// for longer (Retry-After); threshold 0 never opens one. It returns
// whether the backend is now in cooldown.
func (b *breakers) failed(backend, reason string, threshold int, d, hold time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.state[backend]
	if st == nil {
		st = &breaker{}
		b.state[backend] = st
	}
	st.failures++
	wasProbe := st.probing
	st.probing = false
	if threshold <= 0 || (st.failures < threshold && !wasProbe) {
		return false
	}
	st.until = b.now().Add(max(d, hold))
	st.reason = reason
	return true
}

// cooldownStatus is one backend's breaker in /api/status.
type cooldownStatus struct {
	Backend  string    `json:"backend"`
	State    string    `json:"state"` // "cooldown" or "probing"; failing backends below the threshold are "failing"
	Failures int       `json:"consecutive_failures"`
	Until    time.Time `json:"until,omitzero"`
	Reason   string    `json:"reason,omitempty"`
}

// status lists the backends that are failing or cooling down, by name.
func (b *breakers) status() []cooldownStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	out := []cooldownStatus{}
	for name, st := range b.state {
		s := cooldownStatus{Backend: name, State: "failing", Failures: st.failures, Reason: st.reason}
		switch {
		case st.probing:
			s.State = "probing"
		case !st.until.IsZero() && now.Before(st.until):
			s.State, s.Until = "cooldown", st.until.UTC()
		case !st.until.IsZero():
			s.State = "probing" // the next request probes it
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b cooldownStatus) int { return strings.Compare(a.Backend, b.Backend) })
	return out
}

// inCooldown reports whether backend is skipped now, and until when.
func (b *breakers) inCooldown(backend string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.state[backend]
	if st == nil || st.until.IsZero() || !b.now().Before(st.until) {
		return time.Time{}, false
	}
	return st.until, true
}
