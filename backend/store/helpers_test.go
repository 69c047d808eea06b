package store_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/modelbar/modelbar/backend/store"
)

// ignoreProviderTimes and ignoreRouteTimes compare Providers and Routes
// without their timestamps, for tests that check those separately.
var ignoreProviderTimes = cmpopts.IgnoreFields(store.Provider{}, "CreatedAt", "UpdatedAt")

var ignoreRouteTimes = cmpopts.IgnoreFields(store.Route{}, "CreatedAt", "UpdatedAt")

// newStore opens a Store on a fresh file in a temp dir and returns it with
// the file's path. The Store is closed when the test ends.
func newStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "modelbar.db")
	return openStore(t, path), path
}

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens path with plain go-sqlite3 defaults, bypassing Store, to
// inspect or prepare a file.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatalf("sql.Open(%q): %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func queryString(t *testing.T, db *sql.DB, query string) string {
	t.Helper()
	var s string
	if err := db.QueryRowContext(t.Context(), query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

// migrationCount is the number of migration files shipped in migrations/.
func migrationCount(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	return n
}

func mustCreateRoute(t *testing.T, s *store.Store, r store.Route) store.Route {
	t.Helper()
	got, err := s.CreateRoute(t.Context(), r)
	if err != nil {
		t.Fatalf("CreateRoute(%+v): %v", r, err)
	}
	return got
}

func mustPutProvider(t *testing.T, s *store.Store, p store.Provider) {
	t.Helper()
	if _, err := s.PutProvider(t.Context(), p); err != nil {
		t.Fatalf("PutProvider(%+v): %v", p, err)
	}
}
