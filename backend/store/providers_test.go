package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/store"
)

func TestPutProvider_CreatesThenUpdates(t *testing.T) {
	s, _ := newStore(t)
	p := store.Provider{Name: "acme", Type: "openai", BaseURL: "https://acme.test/v1", APIKeyEnv: "ACME_KEY", Responses: "auto"}

	created, err := s.PutProvider(t.Context(), p)
	if err != nil || !created {
		t.Fatalf("first PutProvider = %v, %v; want true, nil", created, err)
	}
	first, err := s.GetProvider(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, first, ignoreProviderTimes); diff != "" {
		t.Errorf("stored provider (-want +got):\n%s", diff)
	}
	if first.CreatedAt.IsZero() || !first.CreatedAt.Equal(first.UpdatedAt) || first.CreatedAt.Location() != time.UTC {
		t.Errorf("new provider times: CreatedAt %v, UpdatedAt %v; want equal, non-zero, UTC", first.CreatedAt, first.UpdatedAt)
	}

	p2 := store.Provider{Name: "acme", Type: "anthropic", BaseURL: "https://acme.test", HasStoredKey: true, KeyHint: "wxyz",
		DefaultMaxTokens: 8192, Responses: "no", CreatedAt: time.Unix(1, 0)} // CreatedAt ignored
	created, err = s.PutProvider(t.Context(), p2)
	if err != nil || created {
		t.Fatalf("second PutProvider = %v, %v; want false, nil", created, err)
	}
	second, err := s.GetProvider(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p2, second, ignoreProviderTimes); diff != "" {
		t.Errorf("updated provider (-want +got):\n%s", diff)
	}
	if !second.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("CreatedAt changed on update: %v -> %v", first.CreatedAt, second.CreatedAt)
	}
	if second.UpdatedAt.Before(first.UpdatedAt) {
		t.Errorf("UpdatedAt went back on update: %v -> %v", first.UpdatedAt, second.UpdatedAt)
	}
}

func TestPutProvider_EmptyNameFails(t *testing.T) {
	s, _ := newStore(t)

	if _, err := s.PutProvider(t.Context(), store.Provider{Type: "openai"}); err == nil {
		t.Fatal("PutProvider with an empty name succeeded")
	}
	ps, err := s.ListProviders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 0 {
		t.Errorf("providers after failed put = %+v, want none", ps)
	}
}

func TestListProviders_OrderedByName(t *testing.T) {
	s, _ := newStore(t)
	empty, err := s.ListProviders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if empty == nil || len(empty) != 0 {
		t.Errorf("ListProviders on an empty store = %#v, want an empty non-nil slice", empty)
	}
	for _, name := range []string{"zeta", "acme", "mid"} {
		mustPutProvider(t, s, store.Provider{Name: name, Type: "openai"})
	}

	ps, err := s.ListProviders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if diff := cmp.Diff([]string{"acme", "mid", "zeta"}, names); diff != "" {
		t.Errorf("provider order (-want +got):\n%s", diff)
	}
}

func TestDeleteProvider_References(t *testing.T) {
	tests := []struct {
		name   string
		routes []store.Route
		inUse  []bool // per route: does it reference "acme"?
	}{
		{"unreferenced", nil, nil},
		{"backend", []store.Route{{Backend: "acme"}}, []bool{true}},
		{"bare fallback", []store.Route{{Backend: "local", Fallbacks: []string{"acme"}}}, []bool{true}},
		{"fallback with model", []store.Route{{Backend: "local", Fallbacks: []string{"other", "acme:gpt-4o"}}}, []bool{true}},
		{"fallback with colon model", []store.Route{{Backend: "local", Fallbacks: []string{"acme:llama3:8b"}}}, []bool{true}},
		{"several routes", []store.Route{
			{Backend: "acme"},
			{Backend: "local", Fallbacks: []string{"other"}},
			{Backend: "other", Fallbacks: []string{"acme:m"}},
		}, []bool{true, false, true}},
		{"look-alike names", []store.Route{
			{Backend: "acme-2"},
			{Backend: "acmex", Fallbacks: []string{"acme2:m", "acmex", "local:acme", "ACME", " acme"}},
			{Backend: "local", BackendModel: "acme"},
		}, []bool{false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			mustPutProvider(t, s, store.Provider{Name: "acme", Type: "openai"})
			var want []int64
			for i, r := range tt.routes {
				r.ModelPattern = "m*"
				if got := mustCreateRoute(t, s, r); tt.inUse[i] {
					want = append(want, got.ID)
				}
			}

			err := s.DeleteProvider(t.Context(), "acme")

			_, getErr := s.GetProvider(t.Context(), "acme")
			if want == nil {
				if err != nil {
					t.Fatalf("DeleteProvider: %v", err)
				}
				if !errors.Is(getErr, store.ErrNotFound) {
					t.Errorf("GetProvider after delete: %v, want ErrNotFound", getErr)
				}
				return
			}
			var inUse *store.InUseError
			if !errors.As(err, &inUse) {
				t.Fatalf("DeleteProvider error = %v, want an *InUseError", err)
			}
			if diff := cmp.Diff(&store.InUseError{Provider: "acme", RouteIDs: want}, inUse); diff != "" {
				t.Errorf("InUseError (-want +got):\n%s", diff)
			}
			if getErr != nil {
				t.Errorf("provider gone after refused delete: %v", getErr)
			}
		})
	}
}
