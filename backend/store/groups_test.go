package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/store"
)

// A route's group, policy and context window round-trip; the first member
// is the route's backend whatever Backend said.
func TestStore_RouteGroup(t *testing.T) {
	s, _ := newStore(t)
	window := int64(32768)
	in := store.Route{ModelPattern: "chat-*", Backend: "stale", Enabled: true, Policy: "weighted", MaxContext: &window,
		Targets: []store.Member{{Backend: "vllm", Model: "qwen", Weight: 3}, {Backend: "ollama", Weight: 1}}}
	r := mustCreateRoute(t, s, in)
	want := in
	want.ID, want.Backend, want.BackendModel, want.Fallbacks = r.ID, "vllm", "qwen", []string{}
	if diff := cmp.Diff(want, r, ignoreRouteTimes); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	got, err := s.GetRoute(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("read back (-create +get):\n%s", diff)
	}
	r.Targets = []store.Member{{Backend: "local", Weight: 1}}
	r.Policy, r.MaxContext = "least-busy", nil
	if r, err = s.UpdateRoute(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if r.Backend != "local" || r.BackendModel != "" || len(r.Targets) != 1 || r.Policy != "least-busy" || r.MaxContext != nil {
		t.Errorf("updated: %+v", r)
	}
}

// A provider named only by a group member (not the first) is in use.
func TestDeleteProvider_RefusedWhileAGroupUsesIt(t *testing.T) {
	s, _ := newStore(t)
	mustPutProvider(t, s, store.Provider{Name: "p2", Type: "openai", BaseURL: "http://127.0.0.1:1/v1"})
	r := mustCreateRoute(t, s, store.Route{ModelPattern: "m", Backend: "local",
		Targets: []store.Member{{Backend: "local", Weight: 1}, {Backend: "p2", Model: "x", Weight: 1}}})
	var inUse *store.InUseError
	if err := s.DeleteProvider(t.Context(), "p2"); !errors.As(err, &inUse) || fmt.Sprint(inUse.RouteIDs) != fmt.Sprint([]int64{r.ID}) {
		t.Fatalf("delete of a group member's provider: %v, want InUseError naming route %d", err, r.ID)
	}
}

// A route written at schema 14, before groups, reads back as the group of
// its backend with policy "first" and no context window.
func TestOpen_MigratesRoutesToGroups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelbar.db")
	db := rawDB(t, path)
	for v := 1; v <= 14; v++ {
		matches, err := filepath.Glob(fmt.Sprintf("migrations/%04d_*.sql", v))
		if err != nil || len(matches) != 1 {
			t.Fatalf("migration %d: %v %v", v, matches, err)
		}
		sqlText, err := os.ReadFile(matches[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(sqlText)); err != nil {
			t.Fatalf("%s: %v", matches[0], err)
		}
	}
	for _, stmt := range []string{"PRAGMA user_version = 14",
		`INSERT INTO routes (model_pattern, backend, backend_model, fallbacks, priority, enabled, created_at, updated_at)
		 VALUES ('fast', 'openai', 'gpt-4o-mini', '["local"]', 2, 1, '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z')`,
		`INSERT INTO routes (model_pattern, backend, backend_model, fallbacks, priority, enabled, created_at, updated_at)
		 VALUES ('plain', 'local', '', '[]', 0, 1, '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z')`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	s := openStore(t, path)
	rs, err := s.ListRoutes(t.Context())
	if err != nil || len(rs) != 2 {
		t.Fatalf("routes %+v, %v", rs, err)
	}
	want := [][]store.Member{{{Backend: "openai", Model: "gpt-4o-mini", Weight: 1}}, {{Backend: "local", Weight: 1}}}
	for i, r := range rs {
		if diff := cmp.Diff(want[i], r.Targets); diff != "" || r.Policy != "first" || r.MaxContext != nil {
			t.Errorf("migrated route %s: policy %q max_context %v, targets (-want +got):\n%s", r.ModelPattern, r.Policy, r.MaxContext, diff)
		}
	}
	if rs[0].Backend != "openai" || rs[0].Priority != 2 || fmt.Sprint(rs[0].Fallbacks) != "[local]" {
		t.Errorf("migrated route lost a field: %+v", rs[0])
	}
}
