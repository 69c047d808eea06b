// Package store persists modelbar's providers, routes and settings in one
// SQLite file.
//
// The file is opened in WAL mode with foreign keys on, synchronous=FULL (the
// request log's batches alone are written with NORMAL: see writeRelaxed) and
// a 5 s busy timeout. Its schema is versioned by PRAGMA user_version and brought
// up to date by the SQL files embedded from migrations/ when it is opened; a
// file written by a newer modelbar is refused untouched (see
// [SchemaTooNewError]).
//
// Provider keys are never stored here: a provider records only whether the
// secret store holds its key and the key's last four characters. Inference
// API keys are stored only as their SHA-256 and last four characters.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" database/sql driver
)

// Store is an open modelbar database. It is safe for concurrent use by
// multiple goroutines, and several Stores (in one process or several) may
// have the same file open at once.
//
// Writes go through one connection (w) and reads through a pool of read-only
// connections (r). With a single writer connection, writers in this process
// wait for it in database/sql's pool (giving up when their ctx ends) instead
// of contending for SQLite's write lock and sleeping in busy_timeout; WAL
// lets the readers run alongside it. Write transactions are BEGIN IMMEDIATE (_txlock=immediate):
// they take the write lock up front, so a writer in another process makes
// them wait up to busy_timeout rather than fail with SQLITE_BUSY on a
// read-to-write upgrade, which busy_timeout cannot retry.
type Store struct {
	path    string
	w       *sql.DB // one connection; every write, as a transaction
	r       *sql.DB // read-only pool (PRAGMA query_only)
	problem string  // what PRAGMA quick_check found at Open; "" when it passed
}

// timeLayout is fixed-width so stored times sort as text; it keeps
// nanoseconds, so times round-trip exactly.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Open opens the database at path, creating the file if it is missing. The
// parent directory must exist; Open creates nothing but the file (and
// SQLite's -wal and -shm files beside it).
//
// Pending migrations are applied, each in its own transaction together with
// its PRAGMA user_version, so a failed migration leaves the file at the
// previous version. If the file's schema is newer than this build supports,
// Open returns a wrapped *SchemaTooNewError and leaves the file unaltered.
//
// Open then runs PRAGMA quick_check. A file that fails it is still opened,
// so that what can be read still is (configuration lives in a few small
// tables; the request log in a large one): the finding is kept for
// Integrity, and Open does not log it (the caller does). The check reads
// the whole file, about 0.1 s per 100,000 request-log rows.
//
// ctx bounds the work done by Open only; the Store outlives it.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := checkParentDir(path); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w, err := openWriter(ctx, path)
	if err != nil {
		return nil, err
	}
	r, err := openReader(ctx, path)
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	problem, err := quickCheck(ctx, r)
	if err != nil {
		_ = errors.Join(r.Close(), w.Close())
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Store{path: path, w: w, r: r, problem: problem}, nil
}

// Integrity reports what PRAGMA quick_check found when the Store was
// opened: ok, or the problem in SQLite's words (its first lines, at most
// about 1 KB). The result does not change while the Store is open.
func (s *Store) Integrity() (ok bool, problem string) { return s.problem == "", s.problem }

func checkParentDir(path string) error {
	if path == "" {
		return errors.New("empty path")
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("parent directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("parent directory %s is not a directory", filepath.Dir(path))
	}
	return nil
}

// openWriter opens the single write connection, refuses a too-new schema
// before anything is written, then switches to WAL and migrates.
func openWriter(ctx context.Context, path string) (*sql.DB, error) {
	w, err := sql.Open("sqlite3", dsn(path, "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := prepare(ctx, w, path); err != nil {
		_ = w.Close()
		return nil, err
	}
	return w, nil
}

func prepare(ctx context.Context, w *sql.DB, path string) error {
	migs, err := embeddedMigrations()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	from, err := checkVersion(ctx, w, path, len(migs))
	if err != nil {
		return err
	}
	if err := enableWAL(ctx, w); err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	return migrate(ctx, w, path, migs, from)
}

func enableWAL(ctx context.Context, w *sql.DB) error {
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("enable WAL: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("enable WAL: journal_mode is %q", mode)
	}
	return nil
}

func openReader(ctx context.Context, path string) (*sql.DB, error) {
	r, err := sql.Open("sqlite3", dsn(path, "_query_only=1"))
	if err != nil {
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()))
	if err := r.PingContext(ctx); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	return r, nil
}

// uriPath escapes the characters that would end or corrupt the path part of
// an SQLite URI filename.
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// dsn builds a go-sqlite3 URI for path with the settings every connection
// gets, plus extra. The journal mode is deliberately not among them: setting
// it writes to the file, which must not happen before the version check.
func dsn(path, extra string) string {
	q := url.Values{}
	q.Set("_busy_timeout", "5000")
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "FULL")
	return "file:" + uriPath.Replace(filepath.ToSlash(path)) + "?" + q.Encode() + "&" + extra
}

// Close closes the database. Calls in flight may fail; the Store must not be
// used afterwards.
func (s *Store) Close() error {
	if err := errors.Join(s.r.Close(), s.w.Close()); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// Path returns the path the Store was opened with.
func (s *Store) Path() string { return s.path }

// SchemaVersion returns the file's schema version (PRAGMA user_version),
// which after Open equals the number of embedded migrations.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := userVersion(ctx, s.r)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// queryer is what reads need from *sql.DB and *sql.Tx alike.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func userVersion(ctx context.Context, q queryer) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read user_version: %w", err)
	}
	return v, nil
}

// write runs fn in one write transaction and commits it if fn returns nil.
// Any error, including ctx being cancelled, rolls the transaction back, so a
// failed write leaves the previous state intact.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// writeRelaxed is write for data that may lose its last transactions to a
// power failure (never to a crash of modelbar): the request log. It runs
// with synchronous=NORMAL — in WAL mode still atomic and consistent, but
// without an fsync per commit — so logging requests does not compete with
// them for the disk; configuration writes keep synchronous=FULL.
func (s *Store) writeRelaxed(ctx context.Context, fn func(tx *sql.Tx) error) error {
	conn, err := s.w.Conn(ctx) // the one writer connection
	if err != nil {
		return fmt.Errorf("writer connection: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return fmt.Errorf("relax synchronous: %w", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous = FULL"); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) // never hand the relaxed connection on
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// now is the time stamped on writes.
func now() time.Time { return time.Now().UTC() }

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t.UTC(), nil
}
