package reqlog

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ids(es []Entry) []uint64 {
	out := []uint64{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestRing_RecentNewestFirst(t *testing.T) {
	r := NewRing(3)
	if got := r.Recent(10, 0); len(got) != 0 {
		t.Fatalf("empty ring returned %v", got)
	}
	for range 5 {
		r.Add(Entry{Model: "m"})
	}
	tests := []struct {
		limit int
		after uint64
		want  []uint64
	}{
		{10, 0, []uint64{5, 4, 3}},
		{2, 0, []uint64{5, 4}},
		{10, 3, []uint64{5, 4}},
		{10, 5, []uint64{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ids(r.Recent(tt.limit, tt.after))); diff != "" {
			t.Errorf("Recent(%d, %d) (-want +got):\n%s", tt.limit, tt.after, diff)
		}
	}
}

func TestRing_ConcurrentAdds(t *testing.T) {
	r := NewRing(1000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				r.Add(Entry{})
			}
		})
	}
	wg.Wait()
	got := r.Recent(1000, 0)
	if len(got) != 800 || got[0].ID != 800 || got[799].ID != 1 {
		t.Fatalf("got %d entries, first %d last %d", len(got), got[0].ID, got[len(got)-1].ID)
	}
}
