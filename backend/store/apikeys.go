package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// APIKey is an inference API key as stored: never the key itself, only its
// hash (kept out of this struct, see APIKeyHashes) and its last four
// characters.
type APIKey struct {
	ID         int64
	Name       string
	Hint       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used
}

// APIKeyHash is what verifying a key needs: the hex SHA-256 of the key and
// the id it belongs to.
type APIKeyHash struct {
	ID   int64
	Hash string
}

const apiKeyCols = `id, name, hint, created_at, last_used_at`

// CreateAPIKey stores a key by its hash (hex SHA-256; the caller computes
// it) and hint, and returns the stored row. Ids are never reused.
func (s *Store) CreateAPIKey(ctx context.Context, name, hash, hint string) (APIKey, error) {
	var out APIKey
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		row := tx.QueryRowContext(ctx, `INSERT INTO api_keys (name, hash, hint, created_at)
			VALUES (?, ?, ?, ?) RETURNING `+apiKeyCols, name, hash, hint, formatTime(now()))
		out, err = scanAPIKey(row)
		return err
	})
	if err != nil {
		return APIKey{}, fmt.Errorf("store: create API key: %w", err)
	}
	return out, nil
}

// ListAPIKeys returns every key ordered by id; an empty store gives an
// empty, non-nil slice.
func (s *Store) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list API keys: %w", err)
	}
	defer rows.Close()
	keys := []APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list API keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list API keys: %w", err)
	}
	return keys, nil
}

// APIKeyHashes returns the id and hash of every key, for the in-memory set
// requests are checked against.
func (s *Store) APIKeyHashes(ctx context.Context) ([]APIKeyHash, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, hash FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list API key hashes: %w", err)
	}
	defer rows.Close()
	out := []APIKeyHash{}
	for rows.Next() {
		var h APIKeyHash
		if err := rows.Scan(&h.ID, &h.Hash); err != nil {
			return nil, fmt.Errorf("store: list API key hashes: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list API key hashes: %w", err)
	}
	return out, nil
}

// DeleteAPIKey revokes the key with the given id, or returns an error
// wrapping ErrNotFound.
func (s *Store) DeleteAPIKey(ctx context.Context, id int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE id = ?`, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete API key %d: %w", id, err)
	}
	return nil
}

// TouchAPIKeys records when keys were last used, all in one transaction: a
// batch, so callers can collect uses and write them now and then rather than
// on every request. A time never moves last_used_at backwards, and ids that
// no longer exist (revoked meanwhile) are skipped without error.
func (s *Store) TouchAPIKeys(ctx context.Context, used map[int64]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		for id, t := range used {
			ts := formatTime(t)
			if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ?
				WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, ts, id, ts); err != nil {
				return fmt.Errorf("key %d: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: touch API keys: %w", err)
	}
	return nil
}

func scanAPIKey(sc scanner) (APIKey, error) {
	var k APIKey
	var created string
	var lastUsed sql.NullString
	if err := sc.Scan(&k.ID, &k.Name, &k.Hint, &created, &lastUsed); err != nil {
		return APIKey{}, err
	}
	var err error
	if k.CreatedAt, err = parseTime(created); err != nil {
		return APIKey{}, err
	}
	if lastUsed.Valid {
		if k.LastUsedAt, err = parseTime(lastUsed.String); err != nil {
			return APIKey{}, err
		}
	}
	return k, nil
}
