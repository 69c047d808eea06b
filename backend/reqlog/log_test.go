package reqlog

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeStore is a Memory that records the size of each insert, can be made
// to block or fail, and records the prune calls.
type fakeStore struct {
	Memory
	mu      sync.Mutex
	batches []int         // guarded by mu
	prunes  []pruneCall   // guarded by mu
	block   chan struct{} // when not nil, inserts wait for it to close
	fail    error         // guarded by mu
}

type pruneCall struct {
	before time.Time
	keep   int
}

func (f *fakeStore) InsertRequests(ctx context.Context, es []Entry) error {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	f.batches = append(f.batches, len(es))
	err := f.fail
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Memory.InsertRequests(ctx, es)
}

func (f *fakeStore) PruneRequests(ctx context.Context, before time.Time, keep int) (int64, error) {
	f.mu.Lock()
	f.prunes = append(f.prunes, pruneCall{before, keep})
	f.mu.Unlock()
	return f.Memory.PruneRequests(ctx, before, keep)
}

func (f *fakeStore) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int{}, f.batches...)
}

func (f *fakeStore) pruneCalls() []pruneCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pruneCall{}, f.prunes...)
}

func newLog(t *testing.T, st Store, opts Options) *Log {
	t.Helper()
	opts.Log = slog.New(slog.DiscardHandler)
	l := New(st, opts)
	t.Cleanup(func() { l.Close() })
	return l
}

func recentIDs(t *testing.T, l *Log, limit int, after int64) []int64 {
	t.Helper()
	es, err := l.Recent(t.Context(), limit, after)
	if err != nil {
		t.Fatalf("Recent: %v", err)
	}
	ids := []int64{}
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

// An entry is visible to Recent as soon as Add returned, without waiting
// for the flush interval.
func TestLog_RecentSeesJustAddedEntries(t *testing.T) {
	l := newLog(t, &Memory{}, Options{FlushInterval: time.Hour})
	for range 5 {
		l.Add(fresh())
	}
	tests := []struct {
		limit int
		after int64
		want  []int64
	}{
		{10, 0, []int64{5, 4, 3, 2, 1}},
		{2, 0, []int64{5, 4}},
		{10, 3, []int64{5, 4}},
		{10, 5, []int64{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, recentIDs(t, l, tt.limit, tt.after)); diff != "" {
			t.Errorf("Recent(%d, %d) (-want +got):\n%s", tt.limit, tt.after, diff)
		}
	}
}

// Entries go in batches of at most BatchSize, written when a batch is
// full, when the flush interval has passed, or on Flush.
func TestLog_Batching(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		add   int
		flush bool // call Flush instead of waiting for the interval
	}{
		{"full batches, the rest after the interval", Options{BatchSize: 4, FlushInterval: 20 * time.Millisecond}, 10, false},
		{"flush writes in batches", Options{BatchSize: 4, FlushInterval: time.Hour}, 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{block: make(chan struct{})}
			l := newLog(t, st, tt.opts)
			for range tt.add {
				l.Add(fresh())
			}
			close(st.block) // the writer held its first batch while the rest queued up
			if tt.flush {
				if err := l.Flush(t.Context()); err != nil {
					t.Fatal(err)
				}
			} else {
				waitFor(t, func() bool { return sum(st.batchSizes()) == tt.add })
			}
			got := st.batchSizes()
			if sum(got) != tt.add {
				t.Fatalf("batches %v, want %d entries in all", got, tt.add)
			}
			if maxBatches := tt.add/tt.opts.BatchSize + 2; len(got) > maxBatches {
				t.Errorf("batches %v: more than %d, entries were not batched", got, maxBatches)
			}
			for _, n := range got {
				if n > tt.opts.BatchSize {
					t.Errorf("batches %v: one above BatchSize %d", got, tt.opts.BatchSize)
				}
			}
		})
	}
}

// Many entries added at once go in few transactions, not one each.
func TestLog_BatchesConcurrentAdds(t *testing.T) {
	st := &fakeStore{}
	l := newLog(t, st, Options{BatchSize: 256, FlushInterval: time.Hour})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				l.Add(fresh())
			}
		})
	}
	wg.Wait()
	got := recentIDs(t, l, 1000, 0)
	if len(got) != 800 || got[0] != 800 || got[799] != 1 {
		t.Fatalf("got %d entries, first %d last %d", len(got), got[0], got[len(got)-1])
	}
	if b := st.batchSizes(); len(b) > 800/256+1 {
		t.Errorf("%d inserts for 800 entries (%v): not batched", len(b), b)
	}
}

// Add never blocks: with the store stuck and the queue full, entries are
// dropped and counted.
func TestLog_DropsWhenFull(t *testing.T) {
	st := &fakeStore{block: make(chan struct{})}
	l := newLog(t, st, Options{Buffer: 4, BatchSize: 1, FlushInterval: time.Millisecond})
	l.Add(fresh()) // taken by the writer, which then blocks in the store
	waitFor(t, func() bool { return len(l.in) == 0 })
	done := make(chan struct{})
	go func() {
		for range 10 {
			l.Add(fresh())
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Add blocked on a full queue")
	}
	if got := l.Dropped(); got != 6 {
		t.Errorf("Dropped = %d, want 6 (10 added, 4 queued)", got)
	}
	close(st.block)
	if got := recentIDs(t, l, 100, 0); len(got) != 5 {
		t.Errorf("stored %d entries, want 5", len(got))
	}
}

// A batch the store refuses is counted as dropped; later ones still go in.
func TestLog_FailedWriteCountsDropped(t *testing.T) {
	st := &fakeStore{fail: errors.New("disk full")}
	l := newLog(t, st, Options{FlushInterval: time.Hour})
	l.Add(fresh())
	l.Add(fresh())
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := l.Dropped(); got != 2 {
		t.Errorf("Dropped = %d, want 2", got)
	}
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	l.Add(fresh())
	if got := recentIDs(t, l, 10, 0); len(got) != 1 {
		t.Errorf("after recovery: %v, want one entry", got)
	}
}

func TestLog_CloseFlushes(t *testing.T) {
	st := &Memory{}
	l := New(st, Options{FlushInterval: time.Hour, Log: slog.New(slog.DiscardHandler)})
	for range 3 {
		l.Add(fresh())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := st.RecentRequests(t.Context(), 10, 0)
	if len(got) != 3 {
		t.Errorf("after Close the store holds %d entries, want 3", len(got))
	}
	l.Add(fresh()) // dropped, no panic
	if l.Dropped() != 1 {
		t.Errorf("Dropped after Close = %d, want 1", l.Dropped())
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if es, err := l.Recent(t.Context(), 10, 0); err != nil || len(es) != 3 {
		t.Errorf("Recent after Close = %d entries, %v", len(es), err)
	}
}

// Retention: pruned at start with the configured retention, on
// SetRetention, and on demand, always relative to the clock and keeping
// at most MaxEntries.
func TestLog_Retention(t *testing.T) {
	now := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	st := &fakeStore{}
	old := []Entry{{Time: now.Add(-40 * day)}, {Time: now.Add(-20 * day)}, {Time: now.Add(-5 * day)}, {Time: now.Add(-time.Hour)}}
	if err := st.Memory.InsertRequests(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	l := newLog(t, st, Options{Now: func() time.Time { return now }, MaxEntries: 100})
	waitFor(t, func() bool { return len(st.pruneCalls()) == 1 })
	if diff := cmp.Diff([]int64{4, 3, 2}, recentIDs(t, l, 10, 0)); diff != "" {
		t.Errorf("after the start-up prune, default 30 days (-want +got):\n%s", diff)
	}

	l.SetRetention(7 * day)
	waitFor(t, func() bool { return len(st.pruneCalls()) == 2 })
	if diff := cmp.Diff([]int64{4, 3}, recentIDs(t, l, 10, 0)); diff != "" {
		t.Errorf("after SetRetention(7 days) (-want +got):\n%s", diff)
	}

	l.SetRetention(0)
	if l.Retention() != DefaultRetention {
		t.Errorf("SetRetention(0) gives %v, want the default", l.Retention())
	}
	waitFor(t, func() bool { return len(st.pruneCalls()) == 3 })
	want := []pruneCall{{now.Add(-30 * day), 100}, {now.Add(-7 * day), 100}, {now.Add(-30 * day), 100}}
	if diff := cmp.Diff(want, st.pruneCalls(), cmp.AllowUnexported(pruneCall{})); diff != "" {
		t.Errorf("prune calls (-want +got):\n%s", diff)
	}
	if n, err := l.Prune(t.Context()); err != nil || n != 0 {
		t.Errorf("Prune = %d, %v; want nothing left to prune", n, err)
	}
}

// The periodic prune runs on its own.
func TestLog_PrunesPeriodically(t *testing.T) {
	st := &fakeStore{}
	newLog(t, st, Options{PruneInterval: 5 * time.Millisecond})
	waitFor(t, func() bool { return len(st.pruneCalls()) >= 3 })
}

func TestMemory_Prune(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		before time.Time
		keep   int
		want   []int64
	}{
		{"none", time.Time{}, 0, []int64{3, 2, 1}},
		{"age", base.Add(2 * time.Minute), 0, []int64{3}},
		{"count", time.Time{}, 1, []int64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Memory{}
			m.InsertRequests(t.Context(), []Entry{{Time: base}, {Time: base.Add(time.Minute)}, {Time: base.Add(2 * time.Minute)}})
			m.PruneRequests(t.Context(), tt.before, tt.keep)
			es, _ := m.RecentRequests(t.Context(), 10, 0)
			got := []int64{}
			for _, e := range es {
				got = append(got, e.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func sum(ns []int) int {
	s := 0
	for _, n := range ns {
		s += n
	}
	return s
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// fresh is an entry of now, which no retention prunes.
func fresh() Entry { return Entry{Time: time.Now(), Model: "m"} }
