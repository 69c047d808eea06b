package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// secret_gc is an intent log of secret store accounts to delete unless a
// provider refers to them (migration 0005). A key change queues the new
// account before writing its secret; the transaction that points the
// provider at it takes it off the queue and queues the account it replaces.
// After a crash at any point, the queued accounts no provider refers to are
// exactly the secrets nobody will ever read, and a cleanup claims and
// deletes them.
//
// Claiming makes the cleanup safe against a writer in another process: a
// claimed account can no longer be taken up (PutProvider fails with
// ErrAccountNotQueued), so a secret is never deleted under a provider that
// has just started to use it.

// ErrAccountNotQueued is wrapped by PutProvider when the key account it is to
// start using is not in secret_gc, or a cleanup has claimed it.
var ErrAccountNotQueued = errors.New("key account is not queued in secret_gc, or is being deleted")

// unreferenced is true for a secret_gc row no provider refers to. A provider
// with a stored key but no key_account refers to its name, where keys were
// kept before key_account existed.
const unreferenced = `NOT EXISTS (SELECT 1 FROM providers p
	WHERE p.key_account = secret_gc.account
	   OR (p.key_account = '' AND p.has_stored_key = 1 AND p.name = secret_gc.account))`

// QueueSecretGC enters account in secret_gc: a cleanup will delete its secret
// unless a provider takes it up first (PutProvider with KeyAccount =
// account). Call it, and let it commit, before writing a secret under a new
// account. Queuing an account that is queued already changes nothing.
func (s *Store) QueueSecretGC(ctx context.Context, account string) error {
	err := s.write(ctx, func(tx *sql.Tx) error { return queueSecretGC(ctx, tx, account) })
	if err != nil {
		return fmt.Errorf("store: queue secret account %q for deletion: %w", account, err)
	}
	return nil
}

func queueSecretGC(ctx context.Context, tx *sql.Tx, account string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO secret_gc (account, created_at) VALUES (?, ?)
		ON CONFLICT (account) DO NOTHING`, account, formatTime(now()))
	return err
}

// ClaimSecretGC marks the queued accounts no provider refers to as claimed
// and returns every claimed account still unreferenced, including those an
// earlier cleanup claimed but did not finish. No provider can take up a
// claimed account, so the caller may delete their secrets, then remove each
// with DropSecretGC.
func (s *Store) ClaimSecretGC(ctx context.Context) ([]string, error) {
	var accounts []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE secret_gc SET claimed = 1 WHERE claimed = 0 AND `+unreferenced); err != nil {
			return err
		}
		var err error
		accounts, err = queryStrings(ctx, tx, `SELECT account FROM secret_gc WHERE claimed = 1 AND `+unreferenced+` ORDER BY account`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim secret accounts to delete: %w", err)
	}
	return accounts, nil
}

// ListSecretGC returns every account in secret_gc, ordered, claimed or not.
func (s *Store) ListSecretGC(ctx context.Context) ([]string, error) {
	accounts, err := queryStrings(ctx, s.r, `SELECT account FROM secret_gc ORDER BY account`)
	if err != nil {
		return nil, fmt.Errorf("store: list secret accounts to delete: %w", err)
	}
	return accounts, nil
}

// DropSecretGC removes account from secret_gc once its secret is deleted (or
// was never written). An account that is not there is not an error.
func (s *Store) DropSecretGC(ctx context.Context, account string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM secret_gc WHERE account = ?`, account)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: drop secret account %q from deletion queue: %w", account, err)
	}
	return nil
}

// swapKeyAccount, inside the transaction that moves a provider from key
// account prev to next (either may be ""), takes next off the queue (it must
// be queued and unclaimed) and queues prev.
func swapKeyAccount(ctx context.Context, tx *sql.Tx, prev, next string) error {
	if next != "" {
		res, err := tx.ExecContext(ctx, `DELETE FROM secret_gc WHERE account = ? AND claimed = 0`, next)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(fmt.Errorf("take up key account %q: %w", next, ErrAccountNotQueued), err)
		}
	}
	if prev == "" {
		return nil
	}
	return queueSecretGC(ctx, tx, prev)
}

// queryStrings runs a query of one text column and returns its values; no
// rows give an empty, non-nil slice.
func queryStrings(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
