package store_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/store"
)

func TestCreateRoute_ConcurrentWriters(t *testing.T) {
	tests := []struct {
		name    string
		handles int // Stores open on the same file
		workers int // goroutines per Store
		each    int // routes created per goroutine
	}{
		{"one store", 1, 8, 50},
		{"two stores on one file", 2, 4, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, path := newStore(t)
			stores := make([]*store.Store, tt.handles)
			for i := range stores {
				stores[i] = openStore(t, path)
			}

			var wg sync.WaitGroup
			errs := make(chan error, tt.handles*tt.workers*tt.each)
			for h, s := range stores {
				for w := range tt.workers {
					wg.Go(func() {
						for i := range tt.each {
							r := store.Route{ModelPattern: fmt.Sprintf("h%d-w%d-%d", h, w, i), Backend: "local"}
							if _, err := s.CreateRoute(t.Context(), r); err != nil {
								errs <- err
							}
							// PutProvider reads, then writes: the lock upgrade that
							// BEGIN IMMEDIATE keeps from failing with SQLITE_BUSY.
							p := store.Provider{Name: fmt.Sprintf("p%d", i%5), Type: "openai", KeyHint: fmt.Sprint(h, w)}
							if _, err := s.PutProvider(t.Context(), p); err != nil {
								errs <- err
							}
							if err := s.SetSettings(t.Context(), map[string]string{fmt.Sprintf("h%d-w%d", h, w): fmt.Sprint(i)}); err != nil {
								errs <- err
							}
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("concurrent write: %v", err)
			}

			checkAllRoutes(t, stores[0], tt.handles, tt.workers, tt.each)
		})
	}
}

// checkAllRoutes checks that every route the workers created is present,
// once, with distinct ids.
func checkAllRoutes(t *testing.T, s *store.Store, handles, workers, each int) {
	t.Helper()
	rs, err := s.ListRoutes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for h := range handles {
		for w := range workers {
			for i := range each {
				want[fmt.Sprintf("h%d-w%d-%d", h, w, i)] = 1
			}
		}
	}
	got := map[string]int{}
	ids := map[int64]bool{}
	for _, r := range rs {
		got[r.ModelPattern]++
		ids[r.ID] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes by pattern (-want +got):\n%s", diff)
	}
	if len(ids) != len(rs) {
		t.Errorf("%d routes share %d ids", len(rs), len(ids))
	}
}
