package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "modelbar.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestOpen_ConnectionPragmas(t *testing.T) {
	s := openTestStore(t)
	tests := []struct {
		pragma string
		writer string
		reader string
	}{
		{"journal_mode", "wal", "wal"},
		{"busy_timeout", "5000", "5000"},
		{"foreign_keys", "1", "1"},
		{"synchronous", "2", "2"}, // FULL
		{"query_only", "0", "1"},
	}
	for _, tt := range tests {
		for _, pool := range []struct {
			name string
			db   *sql.DB
			want string
		}{{"writer", s.w, tt.writer}, {"reader", s.r, tt.reader}} {
			var got string
			if err := pool.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != pool.want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", pool.name, tt.pragma, got, pool.want)
			}
		}
	}
}

// The request log is written with synchronous=NORMAL; the writer goes
// back to FULL afterwards, whether the batch committed or failed, so
// configuration writes stay durable.
func TestWriteRelaxed_RestoresFull(t *testing.T) {
	s := openTestStore(t)
	synchronous := func() string {
		var got string
		if err := s.w.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	var during string
	err := s.writeRelaxed(t.Context(), func(tx *sql.Tx) error {
		return tx.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&during)
	})
	if err != nil || during != "1" {
		t.Errorf("inside writeRelaxed: synchronous %q, %v; want 1 (NORMAL)", during, err)
	}
	if got := synchronous(); got != "2" {
		t.Errorf("after a relaxed write: synchronous %s, want 2 (FULL)", got)
	}
	if err := s.writeRelaxed(t.Context(), func(*sql.Tx) error { return errors.New("refused") }); err == nil {
		t.Error("a failing relaxed write reported no error")
	}
	if got := synchronous(); got != "2" {
		t.Errorf("after a failed relaxed write: synchronous %s, want 2 (FULL)", got)
	}
}

func TestWrite_FailureLeavesPreviousState(t *testing.T) {
	tests := []struct {
		name string
		fn   func(ctx context.Context, cancel context.CancelFunc, tx *sql.Tx) error
		want error
	}{
		{"constraint violation", func(ctx context.Context, _ context.CancelFunc, tx *sql.Tx) error {
			if err := execAll(ctx, tx, "UPDATE settings SET value = 'changed'", "DELETE FROM providers"); err != nil {
				return err
			}
			return execAll(ctx, tx, "INSERT INTO routes (id, model_pattern, backend, created_at, updated_at) VALUES (1, 'dup', 'local', '', '')")
		}, nil},
		{"context cancelled midway", func(ctx context.Context, cancel context.CancelFunc, tx *sql.Tx) error {
			if err := execAll(ctx, tx, "UPDATE settings SET value = 'changed'", "DELETE FROM providers"); err != nil {
				return err
			}
			cancel()
			return execAll(ctx, tx, "DELETE FROM routes")
		}, context.Canceled},
		{"callback error", func(ctx context.Context, _ context.CancelFunc, tx *sql.Tx) error {
			if err := execAll(ctx, tx, "UPDATE settings SET value = 'changed'", "DELETE FROM routes"); err != nil {
				return err
			}
			return errBoom
		}, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t)
			seed(t, s)
			before := dump(t, s)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()

			err := s.write(ctx, func(tx *sql.Tx) error { return tt.fn(ctx, cancel, tx) })

			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("write error = %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff(before, dump(t, s)); diff != "" {
				t.Errorf("state after failed write (-before +after):\n%s", diff)
			}
		})
	}
}

var errBoom = errors.New("boom")

func execAll(ctx context.Context, tx *sql.Tx, queries ...string) error {
	for _, q := range queries {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func seed(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.PutProvider(ctx, Provider{Name: "acme", Type: "openai"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRoute(ctx, Route{ModelPattern: "*", Backend: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSettings(ctx, map[string]string{"theme": "dark"}); err != nil {
		t.Fatal(err)
	}
}

type state struct {
	Providers []Provider
	Routes    []Route
	Settings  map[string]string
}

func dump(t *testing.T, s *Store) state {
	t.Helper()
	ps, err1 := s.ListProviders(t.Context())
	rs, err2 := s.ListRoutes(t.Context())
	m, err3 := s.Settings(t.Context())
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	return state{ps, rs, m}
}

func TestMigrate_FailedMigrationLeavesPreviousVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	w, err := sql.Open("sqlite3", dsn(path, "_txlock=immediate"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	broken := fstest.MapFS{
		"0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"0002_b.sql": {Data: []byte("CREATE TABLE b (x INTEGER); INSERT INTO missing VALUES (1);")},
	}
	fixed := fstest.MapFS{
		"0001_a.sql": broken["0001_a.sql"],
		"0002_b.sql": {Data: []byte("CREATE TABLE b (x INTEGER); INSERT INTO b VALUES (1);")},
	}

	err = migrateFS(t, w, path, broken)

	if err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("migrate with a broken 0002 = %v, want an error naming version 2", err)
	}
	if got := tableNames(t, w); !cmp.Equal(got, []string{"a"}) || userVersionOf(t, w) != 1 {
		t.Errorf("after failed migration: tables %v, user_version %d; want [a], 1", got, userVersionOf(t, w))
	}
	if err := migrateFS(t, w, path, fixed); err != nil {
		t.Fatalf("migrate with 0002 fixed: %v", err)
	}
	if got := tableNames(t, w); !cmp.Equal(got, []string{"a", "b"}) || userVersionOf(t, w) != 2 {
		t.Errorf("after fixed migration: tables %v, user_version %d; want [a b], 2", got, userVersionOf(t, w))
	}
}

func migrateFS(t *testing.T, w *sql.DB, path string, fsys fstest.MapFS) error {
	t.Helper()
	migs, err := loadMigrations(fsys)
	if err != nil {
		t.Fatal(err)
	}
	from, err := checkVersion(t.Context(), w, path, len(migs))
	if err != nil {
		return err
	}
	return migrate(t.Context(), w, path, migs, from)
}

func tableNames(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

func userVersionOf(t *testing.T, db *sql.DB) int {
	t.Helper()
	v, err := userVersion(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLoadMigrations_Validation(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []int // versions, when valid
		wantErr string
	}{
		{"ordered", fstest.MapFS{"0002_b.sql": sql, "0001_a.sql": sql, "README.md": sql}, []int{1, 2}, ""},
		{"empty", fstest.MapFS{}, []int{}, ""},
		{"gap", fstest.MapFS{"0001_a.sql": sql, "0003_c.sql": sql}, nil, "expected version 2"},
		{"duplicate", fstest.MapFS{"0001_a.sql": sql, "0001_b.sql": sql}, nil, "expected version 2"},
		{"starts at 2", fstest.MapFS{"0002_a.sql": sql}, nil, "expected version 1"},
		{"no number", fstest.MapFS{"init.sql": sql}, nil, "NNNN_description.sql"},
		{"zero", fstest.MapFS{"0000_a.sql": sql}, nil, "NNNN_description.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			migs, err := loadMigrations(tt.fsys)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []int{}
			for _, m := range migs {
				got = append(got, m.version)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmbeddedMigrations_Load(t *testing.T) {
	migs, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 {
		t.Fatal("no embedded migrations")
	}
}

func TestDSN_EscapesPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd?dir#50%")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model bar.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %q: %v", path, err)
	}
}

// BenchmarkQuickCheck_100kRequests measures the integrity check alone on a
// file with 100,000 request-log rows; compare BenchmarkOpen_100kRequests.
func BenchmarkQuickCheck_100kRequests(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "modelbar.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.ExecContext(b.Context(), `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
		INSERT INTO requests (time, method, path, protocol, model, route, backend, fallback_from, status, input_tokens, output_tokens, ttfb_ms, duration_ms)
		SELECT printf('2026-03-01T12:%06d.000000000Z', i), 'POST', '/v1/chat/completions', 'openai', 'gpt-4o-mini-' || (i % 7),
			'gpt-*', 'openai', '["local"]', 200, 1200, 300, 420, 2100 FROM n`); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if problem, err := quickCheck(b.Context(), s.r); err != nil || problem != "" {
			b.Fatal(problem, err)
		}
	}
}

func TestBound_CutsAtACharacter(t *testing.T) {
	long := strings.Repeat("é", checkBytes) // 2 bytes each
	got := bound(long)
	if len(got) > checkBytes || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("bound: %d bytes, valid %v, suffix %q", len(got), utf8.ValidString(got), got[len(got)-3:])
	}
	if got := bound("short"); got != "short" {
		t.Errorf("bound(short) = %q", got)
	}
}
