package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Provider is a configured cloud backend. The store does not validate its
// fields beyond Name being non-empty; the caller does.
type Provider struct {
	Name         string
	Type         string // "openai" | "anthropic"
	BaseURL      string
	APIKeyEnv    string // name of an env var holding the key, or ""
	HasStoredKey bool   // a key is held in the secret store; the key itself is never stored here
	KeyHint      string // last 4 characters of the stored key, or ""
	// DefaultMaxTokens is sent as max_tokens when a client omits it and the
	// provider requires one; 0 means modelbar's default.
	DefaultMaxTokens int
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

const providerCols = `name, type, base_url, api_key_env, has_stored_key, key_hint, default_max_tokens, created_at, updated_at`

// ListProviders returns all providers ordered by name; an empty store gives
// an empty, non-nil slice.
func (s *Store) ListProviders(ctx context.Context) ([]Provider, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+providerCols+` FROM providers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list providers: %w", err)
	}
	defer rows.Close()
	ps := []Provider{}
	for rows.Next() {
		p, err := scanProvider(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list providers: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list providers: %w", err)
	}
	return ps, nil
}

// GetProvider returns the provider called name, or an error wrapping
// ErrNotFound.
func (s *Store) GetProvider(ctx context.Context, name string) (Provider, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+providerCols+` FROM providers WHERE name = ?`, name)
	p, err := scanProvider(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Provider{}, fmt.Errorf("store: get provider %q: %w", name, err)
	}
	return p, nil
}

// PutProvider inserts p, or replaces the provider of the same name, and
// reports whether it was inserted. p.CreatedAt and p.UpdatedAt are ignored:
// CreatedAt is set on insert and kept on update; UpdatedAt is set to now.
func (s *Store) PutProvider(ctx context.Context, p Provider) (created bool, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		exists, err := providerExists(ctx, tx, p.Name)
		if err != nil {
			return err
		}
		created = !exists
		if created {
			return insertProvider(ctx, tx, p)
		}
		return updateProvider(ctx, tx, p)
	})
	if err != nil {
		return false, fmt.Errorf("store: put provider %q: %w", p.Name, err)
	}
	return created, nil
}

func providerExists(ctx context.Context, q queryer, name string) (bool, error) {
	var exists bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM providers WHERE name = ?)`, name).Scan(&exists)
	return exists, err
}

func insertProvider(ctx context.Context, tx *sql.Tx, p Provider) error {
	t := formatTime(now())
	_, err := tx.ExecContext(ctx, `INSERT INTO providers (`+providerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Name, p.Type, p.BaseURL, p.APIKeyEnv, p.HasStoredKey, p.KeyHint, p.DefaultMaxTokens, t, t)
	return err
}

func updateProvider(ctx context.Context, tx *sql.Tx, p Provider) error {
	_, err := tx.ExecContext(ctx, `UPDATE providers
		SET type = ?, base_url = ?, api_key_env = ?, has_stored_key = ?, key_hint = ?, default_max_tokens = ?, updated_at = ?
		WHERE name = ?`,
		p.Type, p.BaseURL, p.APIKeyEnv, p.HasStoredKey, p.KeyHint, p.DefaultMaxTokens, formatTime(now()), p.Name)
	return err
}

// DeleteProvider deletes the provider called name. It returns an error
// wrapping ErrNotFound if there is none, and a wrapped *InUseError, deleting
// nothing, if any route names it as its backend or in its fallbacks (as
// "name" or "name:model"). The check and the delete are one transaction, so
// a route created concurrently cannot be left pointing at nothing.
func (s *Store) DeleteProvider(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		exists, err := providerExists(ctx, tx, name)
		if err != nil {
			return err
		}
		if !exists {
			return ErrNotFound
		}
		ids, err := routesUsing(ctx, tx, name)
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			return &InUseError{Provider: name, RouteIDs: ids}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM providers WHERE name = ?`, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete provider %q: %w", name, err)
	}
	return nil
}

// routesUsing returns the ids, ascending, of the routes that name provider
// as backend or as a fallback entry "provider" or "provider:model".
func routesUsing(ctx context.Context, q queryer, provider string) ([]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM routes
		WHERE backend = :p OR EXISTS (
			SELECT 1 FROM json_each(routes.fallbacks) AS f
			WHERE f.value = :p OR substr(f.value, 1, length(:p) + 1) = :p || ':')
		ORDER BY id`, sql.Named("p", provider))
	if err != nil {
		return nil, fmt.Errorf("find routes using provider: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find routes using provider: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanProvider(sc scanner) (Provider, error) {
	var p Provider
	var created, updated string
	err := sc.Scan(&p.Name, &p.Type, &p.BaseURL, &p.APIKeyEnv, &p.HasStoredKey, &p.KeyHint, &p.DefaultMaxTokens, &created, &updated)
	if err != nil {
		return Provider{}, err
	}
	if p.CreatedAt, err = parseTime(created); err != nil {
		return Provider{}, err
	}
	if p.UpdatedAt, err = parseTime(updated); err != nil {
		return Provider{}, err
	}
	return p, nil
}
