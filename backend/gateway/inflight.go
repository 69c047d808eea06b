package gateway

import (
	"maps"
	"sync"

	"github.com/modelbar/modelbar/backend/events"
)

// inFlight counts the attempts each backend is serving now: /api/status
// shows them ("in_flight"), and a backend going from idle to busy or back
// publishes events.InFlight, so the menu-bar menu says "Serving locally"
// exactly while the local engine serves. Only those edges publish: a busy
// provider does not flood the feed. Safe for concurrent use; the zero
// value is ready once hub is set (a nil hub publishes nothing).
type inFlight struct {
	hub *events.Hub

	mu sync.Mutex     // guards n
	n  map[string]int // backend -> attempts under way; no zero entries
}

// begin counts an attempt at backend; call end when it is over (its
// answer written, streamed to the end, or failed).
func (f *inFlight) begin(backend string) (end func()) {
	f.add(backend, 1)
	var once sync.Once
	return func() { once.Do(func() { f.add(backend, -1) }) }
}

func (f *inFlight) add(backend string, d int) {
	f.mu.Lock()
	defer f.mu.Unlock() // publishing under the lock keeps the edges in order
	if f.n == nil {
		f.n = map[string]int{}
	}
	n := f.n[backend] + d
	if n <= 0 {
		delete(f.n, backend)
		n = 0
	} else {
		f.n[backend] = n
	}
	if n == 0 || n == d { // 1 -> 0 or 0 -> 1
		f.hub.Publish(events.InFlight, map[string]any{"backend": backend, "in_flight": n})
	}
}

// counts is a copy of the counts: backend -> attempts under way, only
// backends serving now.
func (f *inFlight) counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.n) == 0 {
		return map[string]int{} // {} in JSON, not null
	}
	return maps.Clone(f.n)
}
