package store_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/store"
)

// RouteTokens sums input plus output tokens per route pattern since a
// time, leaving out older entries and entries of no route.
func TestStore_RouteTokens(t *testing.T) {
	s, _ := newStore(t)
	entry := func(minutes int, route string, in, out int64) reqlog.Entry {
		e := entryAt(minutes)
		e.Route, e.InputTokens, e.OutputTokens = route, in, out
		return e
	}
	es := []reqlog.Entry{
		entry(-1, "gpt-*", 1000, 1000), // before since
		entry(0, "gpt-*", 10, 5),
		entry(1, "gpt-*", 3, 2),
		entry(2, "claude", 7, 0),
		entry(3, "", 50, 50),
	}
	if err := s.InsertRequests(t.Context(), es); err != nil {
		t.Fatal(err)
	}
	got, err := s.RouteTokens(t.Context(), reqT0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{"gpt-*": 20, "claude": 7}, got); diff != "" {
		t.Errorf("RouteTokens (-want +got):\n%s", diff)
	}
}

// A route's budget round-trips; nil stays nil (no limit).
func TestStore_RouteBudget(t *testing.T) {
	s, _ := newStore(t)
	rpm, tpd := int64(60), int64(1_000_000)
	r := mustCreateRoute(t, s, store.Route{ModelPattern: "a", Backend: "local", MaxRequestsPerMinute: &rpm, MaxTokensPerDay: &tpd})
	plain := mustCreateRoute(t, s, store.Route{ModelPattern: "b", Backend: "local"})
	if plain.MaxRequestsPerMinute != nil || plain.MaxTokensPerDay != nil {
		t.Errorf("route without a budget read back with one: %+v", plain)
	}
	r.MaxTokensPerDay = nil
	got, err := s.UpdateRoute(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxRequestsPerMinute == nil || *got.MaxRequestsPerMinute != 60 || got.MaxTokensPerDay != nil {
		t.Errorf("updated route %+v, want 60 rpm and no token limit", got)
	}
}
