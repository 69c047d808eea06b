package store_test

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/store"
)

func TestOpen_MigratesEmptyFile(t *testing.T) {
	s, path := newStore(t)

	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); v != want {
		t.Errorf("SchemaVersion = %d, want %d (one per migration)", v, want)
	}
	rows, err := rawDB(t, path).QueryContext(t.Context(),
		`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if diff := cmp.Diff([]string{"api_keys", "conversations", "downloads", "providers", "requests", "responses", "routes", "secret_gc", "settings"}, tables); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
}

func TestOpen_CreatesOnlyTheDatabaseFiles(t *testing.T) {
	_, path := newStore(t)

	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"modelbar.db": true, "modelbar.db-wal": true, "modelbar.db-shm": true}
	for _, e := range entries {
		if !allowed[e.Name()] {
			t.Errorf("unexpected file %s beside the database", e.Name())
		}
	}
}

func TestOpen_MissingParentDirFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")

	s, err := store.Open(t.Context(), filepath.Join(dir, "modelbar.db"))
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with a missing parent directory")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("parent directory was created (stat: %v)", err)
	}
}

func TestOpen_WALMode(t *testing.T) {
	_, path := newStore(t)

	if got := queryString(t, rawDB(t, path), "PRAGMA journal_mode"); got != "wal" {
		t.Errorf("journal_mode = %q, want wal", got)
	}
}

func TestOpen_ReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelbar.db")
	s, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	mustPutProvider(t, s, store.Provider{Name: "acme", Type: "openai", BaseURL: "https://acme.test/v1", HasStoredKey: true, KeyHint: "wxyz"})
	mustCreateRoute(t, s, store.Route{ModelPattern: "gpt-*", Backend: "acme", Fallbacks: []string{"local:llama3"}, Enabled: true})
	if err := s.SetSettings(t.Context(), map[string]string{"theme": "dark"}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	after := snapshot(t, openStore(t, path))

	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("data after reopen (-before +after):\n%s", diff)
	}
}

type contents struct {
	Providers []store.Provider
	Routes    []store.Route
	Settings  map[string]string
}

func snapshot(t *testing.T, s *store.Store) contents {
	t.Helper()
	ps, err := s.ListProviders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.ListRoutes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Settings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return contents{ps, rs, m}
}

func TestOpen_RefusesNewerSchemaUnaltered(t *testing.T) {
	for _, mode := range []string{"delete", "wal"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "modelbar.db")
			writeFutureFile(t, path, mode, 99)
			before := fileHash(t, path)

			s, err := store.Open(t.Context(), path)

			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a newer schema")
			}
			var tooNew *store.SchemaTooNewError
			if !errors.As(err, &tooNew) {
				t.Fatalf("Open error = %v, want a *SchemaTooNewError", err)
			}
			want := &store.SchemaTooNewError{Path: path, Found: 99, Supported: migrationCount(t)}
			if diff := cmp.Diff(want, tooNew); diff != "" {
				t.Errorf("SchemaTooNewError (-want +got):\n%s", diff)
			}
			if after := fileHash(t, path); after != before {
				t.Errorf("file changed: sha256 %x before, %x after", before, after)
			}
			if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a -wal file was left behind (stat: %v)", err)
			}
			db := rawDB(t, path)
			if got := queryString(t, db, "PRAGMA user_version"); got != "99" {
				t.Errorf("user_version = %s, want 99", got)
			}
			if got := queryString(t, db, "PRAGMA journal_mode"); got != mode {
				t.Errorf("journal_mode = %s, want %s", got, mode)
			}
		})
	}
}

// writeFutureFile makes a database as a newer modelbar might have left it.
func writeFutureFile(t *testing.T, path, journalMode string, version int) {
	t.Helper()
	db := rawDB(t, path)
	for _, q := range []string{
		"PRAGMA journal_mode = " + journalMode,
		"CREATE TABLE future (x TEXT)",
		"INSERT INTO future VALUES ('from the future')",
		"PRAGMA user_version = " + strconv.Itoa(version),
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileHash(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestSchemaTooNewError_Message(t *testing.T) {
	err := &store.SchemaTooNewError{Path: "/data/modelbar.db", Found: 5, Supported: 1}

	want := "database /data/modelbar.db has schema version 5, newer than this modelbar supports (1): upgrade modelbar or use another --data-dir"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q\nwant      %q", got, want)
	}
}

func TestInUseError_Message(t *testing.T) {
	err := &store.InUseError{Provider: "acme", RouteIDs: []int64{2, 7}}

	if got, want := err.Error(), `provider "acme" is used by routes 2, 7`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestStore_NotFound(t *testing.T) {
	s, _ := newStore(t)
	kept := mustCreateRoute(t, s, store.Route{ModelPattern: "kept", Backend: "local"})
	gone := mustCreateRoute(t, s, store.Route{ModelPattern: "gone", Backend: "local"})
	if err := s.DeleteRoute(t.Context(), gone.ID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		call func() error
	}{
		{"GetProvider", func() error { _, err := s.GetProvider(t.Context(), "nope"); return err }},
		{"DeleteProvider", func() error { return s.DeleteProvider(t.Context(), "nope") }},
		{"GetRoute", func() error { _, err := s.GetRoute(t.Context(), 999); return err }},
		{"GetRoute deleted", func() error { _, err := s.GetRoute(t.Context(), gone.ID); return err }},
		{"UpdateRoute", func() error { _, err := s.UpdateRoute(t.Context(), store.Route{ID: 999, Backend: "local"}); return err }},
		{"UpdateRoute deleted", func() error { _, err := s.UpdateRoute(t.Context(), store.Route{ID: gone.ID}); return err }},
		{"DeleteRoute", func() error { return s.DeleteRoute(t.Context(), 999) }},
		{"DeleteRoute twice", func() error { return s.DeleteRoute(t.Context(), gone.ID) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("error = %v, want one wrapping ErrNotFound", err)
			}
		})
	}
	rs, err := s.ListRoutes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Route{kept}, rs); diff != "" {
		t.Errorf("routes after failed calls (-want +got):\n%s", diff)
	}
}

// A database written by the first release (schema 1) opens in this one and
// keeps its providers, which get the new columns' defaults.
func TestOpen_UpgradesSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelbar.db")
	db := rawDB(t, path)
	schema1, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{string(schema1), "PRAGMA user_version = 1",
		`INSERT INTO providers (name, type, base_url, created_at, updated_at) VALUES ('old', 'anthropic', 'https://api.anthropic.com', '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z')`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	s := openStore(t, path)
	p, err := s.GetProvider(t.Context(), "old")
	if err != nil || p.Type != "anthropic" || p.DefaultMaxTokens != 0 {
		t.Fatalf("upgraded provider %+v, %v", p, err)
	}
	if v, err := s.SchemaVersion(t.Context()); err != nil || v != migrationCount(t) {
		t.Errorf("schema version %d, %v; want %d", v, err, migrationCount(t))
	}
}
