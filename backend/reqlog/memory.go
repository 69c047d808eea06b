package reqlog

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is a Store that keeps entries in memory, for a gateway run without
// a database (tests, embedding). Nothing survives the process. The zero
// value is ready; safe for concurrent use.
type Memory struct {
	mu      sync.Mutex
	entries []Entry // guarded by mu; ascending ids
	lastID  int64   // guarded by mu
}

var _ Store = (*Memory)(nil)

// InsertRequests implements Store.
func (m *Memory) InsertRequests(_ context.Context, es []Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range es {
		m.lastID++
		e.ID = m.lastID
		e.FallbackFrom = slices.Clone(e.FallbackFrom)
		if e.FallbackFrom == nil {
			e.FallbackFrom = []string{}
		}
		m.entries = append(m.entries, e)
	}
	return nil
}

// RecentRequests implements Store.
func (m *Memory) RecentRequests(_ context.Context, limit int, afterID int64) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Entry{}
	for i := len(m.entries) - 1; i >= 0 && len(out) < limit && m.entries[i].ID > afterID; i-- {
		out = append(out, m.entries[i])
	}
	return out, nil
}

// PruneRequests implements Store.
func (m *Memory) PruneRequests(_ context.Context, before time.Time, keep int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.entries)
	m.entries = slices.DeleteFunc(m.entries, func(e Entry) bool { return !before.IsZero() && e.Time.Before(before) })
	if keep > 0 && len(m.entries) > keep {
		m.entries = slices.Delete(m.entries, 0, len(m.entries)-keep)
	}
	return int64(n - len(m.entries)), nil
}
