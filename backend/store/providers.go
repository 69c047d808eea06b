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
	// KeyAccount is the secret store account holding the key, or "". An
	// account a write stops using is entered in secret_gc by that write;
	// one it starts using must be there already (see QueueSecretGC).
	KeyAccount string
	// DefaultMaxTokens is sent as max_tokens when a client omits it and the
	// provider requires one; 0 means modelbar's default.
	DefaultMaxTokens int
	// Responses says whether the provider offers the Responses API:
	// "auto" (learn it), "yes" or "no".
	Responses string
	// API is the API the provider's models speak for chat: "" (its
	// type's) or "responses".
	API       string
	CreatedAt time.Time
	UpdatedAt time.Time
}

const providerCols = `name, type, base_url, api_key_env, has_stored_key, key_hint, key_account, default_max_tokens, responses, api, created_at, updated_at`

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
//
// When p.KeyAccount differs from the stored row's, the same transaction
// takes p.KeyAccount (if not "") out of secret_gc, failing with an error
// wrapping ErrAccountNotQueued, and enters the row's previous account (if
// not "") in it.
func (s *Store) PutProvider(ctx context.Context, p Provider) (created bool, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		prev, exists, err := providerKeyAccount(ctx, tx, p.Name)
		if err != nil {
			return err
		}
		created = !exists
		if created {
			err = insertProvider(ctx, tx, p)
		} else {
			err = updateProvider(ctx, tx, p)
		}
		if err != nil || prev == p.KeyAccount {
			return err
		}
		return swapKeyAccount(ctx, tx, prev, p.KeyAccount)
	})
	if err != nil {
		return false, fmt.Errorf("store: put provider %q: %w", p.Name, err)
	}
	return created, nil
}

// providerKeyAccount returns the key account of the provider called name
// and whether there is one. A stored key without a key_account is under the
// provider's name, as before migration 0005 (see unreferenced).
func providerKeyAccount(ctx context.Context, q queryer, name string) (account string, exists bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT CASE WHEN key_account = '' AND has_stored_key = 1 THEN name ELSE key_account END
		FROM providers WHERE name = ?`, name).Scan(&account)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return account, err == nil, err
}

func insertProvider(ctx context.Context, tx *sql.Tx, p Provider) error {
	t := formatTime(now())
	_, err := tx.ExecContext(ctx, `INSERT INTO providers (`+providerCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Name, p.Type, p.BaseURL, p.APIKeyEnv, p.HasStoredKey, p.KeyHint, p.KeyAccount, p.DefaultMaxTokens, responsesOrAuto(p.Responses), p.API, t, t)
	return err
}

func updateProvider(ctx context.Context, tx *sql.Tx, p Provider) error {
	_, err := tx.ExecContext(ctx, `UPDATE providers
		SET type = ?, base_url = ?, api_key_env = ?, has_stored_key = ?, key_hint = ?, key_account = ?, default_max_tokens = ?, responses = ?, api = ?, updated_at = ?
		WHERE name = ?`,
		p.Type, p.BaseURL, p.APIKeyEnv, p.HasStoredKey, p.KeyHint, p.KeyAccount, p.DefaultMaxTokens, responsesOrAuto(p.Responses), p.API, formatTime(now()), p.Name)
	return err
}

// DeleteProvider deletes the provider called name. It returns an error
// wrapping ErrNotFound if there is none, and a wrapped *InUseError, deleting
// nothing, if any route names it as its backend, a member of its group or
// in its fallbacks (as "name" or "name:model"). The check and the delete are one transaction, so
// a route created concurrently cannot be left pointing at nothing. The
// provider's key account, if any, is entered in secret_gc in the same
// transaction.
func (s *Store) DeleteProvider(ctx context.Context, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		account, exists, err := providerKeyAccount(ctx, tx, name)
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM providers WHERE name = ?`, name); err != nil {
			return err
		}
		return swapKeyAccount(ctx, tx, account, "")
	})
	if err != nil {
		return fmt.Errorf("store: delete provider %q: %w", name, err)
	}
	return nil
}

// routesUsing returns the ids, ascending, of the routes that name provider
// as backend, as a member of their group or as a fallback entry
// "provider" or "provider:model".
func routesUsing(ctx context.Context, q queryer, provider string) ([]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM routes
		WHERE backend = :p OR EXISTS (
			SELECT 1 FROM json_each(routes.fallbacks) AS f
			WHERE f.value = :p OR substr(f.value, 1, length(:p) + 1) = :p || ':')
		OR EXISTS (
			SELECT 1 FROM json_each(routes.targets) AS t
			WHERE json_extract(t.value, '$.backend') = :p)
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
	err := sc.Scan(&p.Name, &p.Type, &p.BaseURL, &p.APIKeyEnv, &p.HasStoredKey, &p.KeyHint, &p.KeyAccount, &p.DefaultMaxTokens, &p.Responses, &p.API, &created, &updated)
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

// responsesOrAuto is a provider's responses setting, "auto" when unset.
func responsesOrAuto(s string) string {
	if s == "" {
		return "auto"
	}
	return s
}
