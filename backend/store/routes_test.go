package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/store"
)

func TestCreateRoute_RoundTrip(t *testing.T) {
	tests := []struct {
		name          string
		fallbacks     []string
		wantFallbacks []string
	}{
		{"nil fallbacks", nil, []string{}},
		{"empty fallbacks", []string{}, []string{}},
		{"one fallback", []string{"acme"}, []string{"acme"}},
		{"ordered fallbacks", []string{"zeta:gpt-4o", "local:llama3:8b", "acme", `odd "quoted" ünï`},
			[]string{"zeta:gpt-4o", "local:llama3:8b", "acme", `odd "quoted" ünï`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			in := store.Route{ModelPattern: "gpt-*", Backend: "acme", BackendModel: "gpt-4o-mini",
				Fallbacks: tt.fallbacks, Priority: -3, Enabled: true}

			created := mustCreateRoute(t, s, in)

			want := in
			want.ID = created.ID
			want.Fallbacks = tt.wantFallbacks
			want.Targets = []store.Member{{Backend: "acme", Model: "gpt-4o-mini", Weight: 1}} // a group of its backend
			want.Policy = "first"
			if diff := cmp.Diff(want, created, ignoreRouteTimes); diff != "" {
				t.Errorf("CreateRoute result (-want +got):\n%s", diff)
			}
			got, err := s.GetRoute(t.Context(), created.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(created, got); diff != "" {
				t.Errorf("GetRoute differs from CreateRoute (-create +get):\n%s", diff)
			}
			if got.Fallbacks == nil {
				t.Error("Fallbacks read back as nil, want a non-nil slice")
			}
		})
	}
}

func TestCreateRoute_IgnoresIDAndTimes(t *testing.T) {
	s, _ := newStore(t)
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()

	r := mustCreateRoute(t, s, store.Route{ID: 42, ModelPattern: "*", Backend: "local", CreatedAt: old, UpdatedAt: old})

	if r.ID == 42 {
		t.Errorf("ID = 42, the caller's; want one assigned by the store")
	}
	if r.CreatedAt.Before(start.Add(-time.Second)) || !r.CreatedAt.Equal(r.UpdatedAt) || r.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt %v, UpdatedAt %v; want now, equal, UTC", r.CreatedAt, r.UpdatedAt)
	}
}

func TestUpdateRoute_ReplacesFieldsKeepsCreatedAt(t *testing.T) {
	s, _ := newStore(t)
	orig := mustCreateRoute(t, s, store.Route{ModelPattern: "a*", Backend: "local", Fallbacks: []string{"x"}, Enabled: true})
	change := store.Route{ID: orig.ID, ModelPattern: "b*", Backend: "acme", BackendModel: "m",
		Fallbacks: nil, Priority: 7, Enabled: false, CreatedAt: time.Unix(1, 0)}

	updated, err := s.UpdateRoute(t.Context(), change)
	if err != nil {
		t.Fatal(err)
	}

	want := change
	want.Fallbacks = []string{}
	want.Targets = []store.Member{{Backend: "acme", Model: "m", Weight: 1}}
	want.Policy = "first"
	if diff := cmp.Diff(want, updated, ignoreRouteTimes); diff != "" {
		t.Errorf("UpdateRoute result (-want +got):\n%s", diff)
	}
	if !updated.CreatedAt.Equal(orig.CreatedAt) {
		t.Errorf("CreatedAt changed: %v -> %v", orig.CreatedAt, updated.CreatedAt)
	}
	if updated.UpdatedAt.Before(orig.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v -> %v", orig.UpdatedAt, updated.UpdatedAt)
	}
	got, err := s.GetRoute(t.Context(), orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(updated, got); diff != "" {
		t.Errorf("GetRoute differs from UpdateRoute (-update +get):\n%s", diff)
	}
}

func TestListRoutes_OrderedByIDWithoutReuse(t *testing.T) {
	s, _ := newStore(t)
	empty, err := s.ListRoutes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if empty == nil || len(empty) != 0 {
		t.Errorf("ListRoutes on an empty store = %#v, want an empty non-nil slice", empty)
	}
	a := mustCreateRoute(t, s, store.Route{ModelPattern: "a", Backend: "local"})
	b := mustCreateRoute(t, s, store.Route{ModelPattern: "b", Backend: "local"})
	if err := s.DeleteRoute(t.Context(), b.ID); err != nil {
		t.Fatal(err)
	}
	c := mustCreateRoute(t, s, store.Route{ModelPattern: "c", Backend: "local", Priority: 100})

	got, err := s.ListRoutes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Route{a, c}, got); diff != "" {
		t.Errorf("ListRoutes (-want +got):\n%s", diff)
	}
	if c.ID <= b.ID {
		t.Errorf("new route got id %d, not above deleted id %d", c.ID, b.ID)
	}
}

func TestUpdateRoute_CancelledContextLeavesRow(t *testing.T) {
	s, _ := newStore(t)
	orig := mustCreateRoute(t, s, store.Route{ModelPattern: "a*", Backend: "local"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := s.UpdateRoute(ctx, store.Route{ID: orig.ID, ModelPattern: "changed", Backend: "acme"})

	if !errors.Is(err, context.Canceled) {
		t.Errorf("UpdateRoute error = %v, want context.Canceled", err)
	}
	got, err := s.GetRoute(t.Context(), orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(orig, got); diff != "" {
		t.Errorf("route after cancelled update (-want +got):\n%s", diff)
	}
}
