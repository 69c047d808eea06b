// Package reqlog keeps the most recent inference requests in memory for the
// admin API and the UI. It records metadata only: never prompts, completions
// or keys.
package reqlog

import (
	"sync"
	"time"
)

// Entry is one finished inference request.
type Entry struct {
	ID           uint64    `json:"id"`
	Time         time.Time `json:"time"`
	Method       string    `json:"method"`
	Path         string    `json:"path"`
	Protocol     string    `json:"protocol"`
	Model        string    `json:"model"`
	Backend      string    `json:"backend"`
	FallbackFrom []string  `json:"fallback_from"`
	Status       int       `json:"status"`
	Stream       bool      `json:"stream"`
	DurationMS   int64     `json:"duration_ms"`
	Error        string    `json:"error,omitempty"`
}

// Ring holds the last N entries. Safe for concurrent use.
type Ring struct {
	mu      sync.Mutex
	entries []Entry // guarded by mu; circular, next is the slot to write
	next    int
	full    bool
	lastID  uint64
}

// NewRing returns a ring that keeps the last size entries.
func NewRing(size int) *Ring { return &Ring{entries: make([]Entry, size)} }

// Add records e, assigning it the next id.
func (r *Ring) Add(e Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastID++
	e.ID = r.lastID
	if e.FallbackFrom == nil {
		e.FallbackFrom = []string{}
	}
	r.entries[r.next] = e
	r.next = (r.next + 1) % len(r.entries)
	r.full = r.full || r.next == 0
}

// Recent returns up to limit entries, newest first, with ids above afterID
// (0 for all): a poller passes the newest id it has seen.
func (r *Ring) Recent(limit int, afterID uint64) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.entries)
	}
	out := make([]Entry, 0, min(limit, n))
	for i := 1; i <= n && len(out) < limit; i++ {
		e := r.entries[(r.next-i+len(r.entries))%len(r.entries)]
		if e.ID <= afterID {
			break
		}
		out = append(out, e)
	}
	return out
}
