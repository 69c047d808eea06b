package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/store"
)

// A route's hidden flag is stored, changed and read back like its other
// fields.
func TestRoute_HiddenRoundTrip(t *testing.T) {
	s, _ := newStore(t)
	r := mustCreateRoute(t, s, store.Route{ModelPattern: "secret-*", Backend: "local", Enabled: true, Hidden: true})
	if !r.Hidden {
		t.Fatalf("created %+v, want hidden", r)
	}
	r.Hidden = false
	updated, err := s.UpdateRoute(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRoute(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Hidden || got.Hidden {
		t.Errorf("after unhiding: update %+v, get %+v", updated, got)
	}
}

// A database from before hidden existed (schema 5) opens in this release:
// its routes keep every field and are listed (hidden false), and the new
// column takes only 0 or 1.
func TestOpen_UpgradesSchema5AddsHidden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelbar.db")
	db := rawDB(t, path)
	for v := 1; v <= 5; v++ {
		names, err := filepath.Glob(fmt.Sprintf("migrations/%04d_*.sql", v))
		if err != nil || len(names) != 1 {
			t.Fatalf("migration %d: %v %v", v, names, err)
		}
		sql, err := os.ReadFile(names[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(sql)); err != nil {
			t.Fatalf("%s: %v", names[0], err)
		}
	}
	const at = "2026-01-01T00:00:00.000000000Z"
	for _, stmt := range []string{"PRAGMA user_version = 5",
		`INSERT INTO routes (model_pattern, backend, backend_model, fallbacks, priority, enabled, created_at, updated_at)
		 VALUES ('gpt-*', 'local', 'm', '["local:x"]', 7, 0, '` + at + `', '` + at + `')`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	s := openStore(t, path)
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != migrationCount(t) {
		t.Errorf("schema version %d, %v; want %d", v, err, migrationCount(t))
	}
	rs, err := s.ListRoutes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Route{{ID: 1, ModelPattern: "gpt-*", Backend: "local", BackendModel: "m", Fallbacks: []string{"local:x"}, Priority: 7,
		Targets: []store.Member{{Backend: "local", Model: "m", Weight: 1}}, Policy: "first"}} // 0015 made it a group of one
	if diff := cmp.Diff(want, rs, ignoreRouteTimes); diff != "" {
		t.Errorf("upgraded routes (-want +got):\n%s", diff)
	}
	s.Close()
	if _, err := rawDB(t, path).Exec(`UPDATE routes SET hidden = 2`); err == nil {
		t.Error("hidden = 2 was accepted; want the CHECK to refuse it")
	}
}
