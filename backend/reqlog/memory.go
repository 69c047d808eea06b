package reqlog

import (
	"cmp"
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
		e.Attempts = slices.Clone(TrimAttempts(e.Attempts))
		if e.Attempts == nil {
			e.Attempts = []Attempt{}
		}
		m.entries = append(m.entries, e)
	}
	return nil
}

// RecentRequests returns up to limit entries with ids above afterID,
// newest first.
func (m *Memory) RecentRequests(ctx context.Context, limit int, afterID int64) ([]Entry, error) {
	return m.QueryRequests(ctx, Query{Limit: limit, AfterID: afterID})
}

// QueryRequests implements Store.
func (m *Memory) QueryRequests(_ context.Context, q Query) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Entry{}
	for i := len(m.entries) - 1; i >= 0 && len(out) < q.Limit && m.entries[i].ID > q.AfterID; i-- {
		if q.Matches(m.entries[i]) {
			out = append(out, m.entries[i])
		}
	}
	return out, nil
}

// Request implements Store.
func (m *Memory) Request(_ context.Context, id int64) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := slices.BinarySearchFunc(m.entries, id, func(e Entry, id int64) int { return cmp.Compare(e.ID, id) })
	if !ok {
		return Entry{}, ErrNotFound
	}
	return m.entries[i], nil
}

// RequestTotals implements Store.
func (m *Memory) RequestTotals(_ context.Context, since time.Time) ([]Totals, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var in []Entry
	for _, e := range m.entries {
		if !e.Time.Before(since) {
			in = append(in, e)
		}
	}
	return SumTotals(in), nil
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

// SumTotals sums entries per backend, busiest first (then by name), the
// way a Store's RequestTotals does.
func SumTotals(es []Entry) []Totals {
	by := map[string]*Totals{}
	durs, ttfbs := map[string][]int64{}, map[string][]int64{}
	for _, e := range es {
		t := by[e.Backend]
		if t == nil {
			t = &Totals{Backend: e.Backend}
			by[e.Backend] = t
		}
		t.Requests++
		if e.IsError() {
			t.Errors++
		}
		if e.Status == StatusClientClosed {
			t.Cancelled++
		}
		if len(e.FallbackFrom) > 0 {
			t.Failovers++
		}
		t.InputTokens += e.InputTokens
		t.OutputTokens += e.OutputTokens
		durs[e.Backend] = append(durs[e.Backend], e.DurationMS)
		if e.TTFBMS >= 0 {
			ttfbs[e.Backend] = append(ttfbs[e.Backend], e.TTFBMS)
		}
	}
	out := make([]Totals, 0, len(by))
	for b, t := range by {
		t.P50DurationMS = Median(durs[b])
		t.P50TTFBMS = Median(ttfbs[b])
		out = append(out, *t)
	}
	SortTotals(out)
	return out
}

// SortTotals orders totals busiest first, then by backend name.
func SortTotals(ts []Totals) {
	slices.SortFunc(ts, func(a, b Totals) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Backend, b.Backend))
	})
}

// Median is the lower median of vs (the middle value of an odd count, the
// lower of the two middle ones of an even count), -1 for none. vs is
// sorted in place.
func Median(vs []int64) int64 {
	if len(vs) == 0 {
		return -1
	}
	slices.Sort(vs)
	return vs[(len(vs)-1)/2]
}

// RouteTokens implements RouteTokenStore.
func (m *Memory) RouteTokens(_ context.Context, since time.Time) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int64{}
	for _, e := range m.entries {
		if e.Route != "" && !e.Time.Before(since) {
			out[e.Route] += e.InputTokens + e.OutputTokens
		}
	}
	return out, nil
}
