package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// embedded holds the schema migrations, migrations/NNNN_description.sql,
// numbered from 1 without gaps. Migration N takes the schema from version
// N-1 to N; a released migration is never edited, only followed by a new one.
//
//go:embed migrations/*.sql
var embedded embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func embeddedMigrations() ([]migration, error) {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return loadMigrations(sub)
}

// loadMigrations reads the *.sql files at the root of fsys, in version order,
// and checks that they are numbered 1..N without gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	migs := make([]migration, 0, len(names))
	for _, name := range names {
		m, err := readMigration(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("load migrations: %w", err)
		}
		migs = append(migs, m)
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("load migrations: %s: expected version %d", m.name, i+1)
		}
	}
	return migs, nil
}

func readMigration(fsys fs.FS, name string) (migration, error) {
	num, _, ok := strings.Cut(path.Base(name), "_")
	v, err := strconv.Atoi(num)
	if !ok || err != nil || v < 1 {
		return migration{}, fmt.Errorf("%s: name must be NNNN_description.sql", name)
	}
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		return migration{}, err
	}
	return migration{version: v, name: name, sql: string(body)}, nil
}

// checkVersion returns the file's schema version, or a wrapped
// *SchemaTooNewError if it is above supported. It only reads.
func checkVersion(ctx context.Context, q queryer, path string, supported int) (int, error) {
	v, err := userVersion(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("store: open %s: %w", path, err)
	}
	if v > supported {
		return v, fmt.Errorf("store: %w", &SchemaTooNewError{Path: path, Found: v, Supported: supported})
	}
	return v, nil
}

// migrate applies the migrations above version from, in order.
func migrate(ctx context.Context, w *sql.DB, path string, migs []migration, from int) error {
	for _, m := range migs {
		if m.version <= from {
			continue
		}
		if err := applyMigration(ctx, w, path, m, len(migs)); err != nil {
			return err
		}
	}
	return nil
}

// applyMigration runs m and sets user_version to m.version in one
// transaction. It re-reads the version inside the transaction, so when
// another process migrated the file first, m is skipped (or the file is
// refused if that process was newer).
func applyMigration(ctx context.Context, w *sql.DB, path string, m migration, supported int) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate %s to version %d: begin: %w", path, m.version, err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	v, err := checkVersion(ctx, tx, path, supported)
	if err != nil || v >= m.version {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("store: migrate %s to version %d (%s): %w", path, m.version, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return fmt.Errorf("store: migrate %s to version %d: set user_version: %w", path, m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate %s to version %d: commit: %w", path, m.version, err)
	}
	return nil
}
