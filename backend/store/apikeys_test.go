package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/modelbar/modelbar/backend/store"
)

// Hashes are 64 hex digits; these stand in for SHA-256 sums.
var (
	hashA = strings.Repeat("a", 64)
	hashB = strings.Repeat("b", 64)
	hashC = strings.Repeat("c", 64)
)

var ignoreAPIKeyTimes = cmpopts.IgnoreFields(store.APIKey{}, "CreatedAt", "LastUsedAt")

func mustCreateAPIKey(t *testing.T, s *store.Store, name, hash, hint string) store.APIKey {
	t.Helper()
	k, err := s.CreateAPIKey(t.Context(), name, hash, hint)
	if err != nil {
		t.Fatalf("CreateAPIKey(%q): %v", name, err)
	}
	return k
}

func TestAPIKeys_CreateListDelete(t *testing.T) {
	s, path := newStore(t)
	empty, err := s.ListAPIKeys(t.Context())
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("ListAPIKeys on an empty store = %#v, %v; want an empty non-nil slice", empty, err)
	}

	before := time.Now().UTC()
	a := mustCreateAPIKey(t, s, "laptop", hashA, "AAAA")
	b := mustCreateAPIKey(t, s, "ci", hashB, "BBBB")
	if a.CreatedAt.Before(before.Add(-time.Second)) || a.CreatedAt.Location() != time.UTC || !a.LastUsedAt.IsZero() {
		t.Errorf("new key times: created %v, last used %v; want now (UTC) and zero", a.CreatedAt, a.LastUsedAt)
	}
	want := []store.APIKey{{ID: a.ID, Name: "laptop", Hint: "AAAA"}, {ID: b.ID, Name: "ci", Hint: "BBBB"}}
	got, err := s.ListAPIKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, ignoreAPIKeyTimes); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	hashes, err := s.APIKeyHashes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.APIKeyHash{{a.ID, hashA}, {b.ID, hashB}}, hashes); diff != "" {
		t.Errorf("hashes (-want +got):\n%s", diff)
	}

	if err := s.DeleteAPIKey(t.Context(), a.ID); err != nil {
		t.Fatalf("DeleteAPIKey: %v", err)
	}
	if err := s.DeleteAPIKey(t.Context(), a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteAPIKey = %v, want ErrNotFound", err)
	}
	c := mustCreateAPIKey(t, s, "new", hashC, "CCCC")
	if c.ID <= b.ID {
		t.Errorf("new key id %d reuses an id (last was %d)", c.ID, b.ID)
	}

	// A second handle on the file (a restart) reads the same keys.
	got, err = openStore(t, path).ListAPIKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want = []store.APIKey{{ID: b.ID, Name: "ci", Hint: "BBBB"}, {ID: c.ID, Name: "new", Hint: "CCCC"}}
	if diff := cmp.Diff(want, got, ignoreAPIKeyTimes); diff != "" {
		t.Errorf("keys after reopening (-want +got):\n%s", diff)
	}
}

func TestCreateAPIKey_Refuses(t *testing.T) {
	tests := []struct {
		name, keyName, hash string
	}{
		{"empty name", "", hashA},
		{"short hash", "x", "abc"},
		{"duplicate hash", "x", hashB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			mustCreateAPIKey(t, s, "existing", hashB, "BBBB")
			if _, err := s.CreateAPIKey(t.Context(), tt.keyName, tt.hash, "hint"); err == nil {
				t.Fatal("CreateAPIKey succeeded")
			}
			keys, err := s.ListAPIKeys(t.Context())
			if err != nil || len(keys) != 1 {
				t.Errorf("keys after the failed create: %+v, %v; want only the existing one", keys, err)
			}
		})
	}
}

func TestTouchAPIKeys_KeepsTheLatestUse(t *testing.T) {
	s, _ := newStore(t)
	a := mustCreateAPIKey(t, s, "a", hashA, "AAAA")
	b := mustCreateAPIKey(t, s, "b", hashB, "BBBB")
	t1 := time.Date(2026, 3, 1, 10, 0, 0, 123, time.UTC)
	t2 := t1.Add(time.Minute)

	steps := []struct {
		name  string
		touch map[int64]time.Time
		wantA time.Time
		wantB time.Time
	}{
		{"nothing", nil, time.Time{}, time.Time{}},
		{"first use", map[int64]time.Time{a.ID: t2}, t2, time.Time{}},
		{"earlier time is ignored", map[int64]time.Time{a.ID: t1, b.ID: t1}, t2, t1},
		{"later time wins", map[int64]time.Time{b.ID: t2}, t2, t2},
		{"unknown id is skipped", map[int64]time.Time{999: t2}, t2, t2},
	}
	for _, st := range steps {
		if err := s.TouchAPIKeys(t.Context(), st.touch); err != nil {
			t.Fatalf("%s: TouchAPIKeys: %v", st.name, err)
		}
		keys, err := s.ListAPIKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !keys[0].LastUsedAt.Equal(st.wantA) || !keys[1].LastUsedAt.Equal(st.wantB) {
			t.Errorf("%s: last used %v, %v; want %v, %v", st.name, keys[0].LastUsedAt, keys[1].LastUsedAt, st.wantA, st.wantB)
		}
	}
}
