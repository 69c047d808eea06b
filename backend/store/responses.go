package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/modelbar/modelbar/backend/respstore"
)

var _ respstore.Store = (*Store)(nil)

// notFound is a missing response: both ErrNotFound and
// respstore.ErrNotFound.
var notFound = fmt.Errorf("%w (%w)", ErrNotFound, respstore.ErrNotFound)

// maxResponseChain bounds how many responses ResponseChain follows back.
const maxResponseChain = 10_000

// SaveResponse stores r, replacing a response of the same id.
func (s *Store) SaveResponse(ctx context.Context, r respstore.Response) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO responses (id, created_at, previous_id, model, input, response)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, previous_id = excluded.previous_id,
			model = excluded.model, input = excluded.input, response = excluded.response`,
			r.ID, formatTime(r.CreatedAt), r.PreviousID, r.Model, string(r.Input), string(r.Response))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: save response: %w", err)
	}
	return nil
}

// Response returns the stored response id if it was created at or after
// notBefore (zero: any age); else an error wrapping ErrNotFound.
func (s *Store) Response(ctx context.Context, id string, notBefore time.Time) (respstore.Response, error) {
	row := s.r.QueryRowContext(ctx, `SELECT id, created_at, previous_id, model, input, response
		FROM responses WHERE id = ? AND created_at >= ?`, id, formatTime(notBefore))
	r, err := scanResponse(row)
	if errors.Is(err, sql.ErrNoRows) {
		return respstore.Response{}, fmt.Errorf("store: response %q: %w", id, notFound)
	}
	if err != nil {
		return respstore.Response{}, fmt.Errorf("store: response %q: %w", id, err)
	}
	return r, nil
}

// ResponseChain returns the response id and those it continued, oldest
// first, each created at or after notBefore. A chain whose link is missing
// (deleted or expired) is an error wrapping ErrNotFound, naming it.
func (s *Store) ResponseChain(ctx context.Context, id string, notBefore time.Time) ([]respstore.Response, error) {
	var chain []respstore.Response
	for next := id; next != ""; {
		if len(chain) == maxResponseChain {
			return nil, fmt.Errorf("store: response %q: a chain of more than %d responses", id, maxResponseChain)
		}
		r, err := s.Response(ctx, next, notBefore)
		if err != nil {
			return nil, err
		}
		chain = append(chain, r)
		next = r.PreviousID
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}

// DeleteResponse deletes the stored response id; one that is not there is
// an error wrapping ErrNotFound.
func (s *Store) DeleteResponse(ctx context.Context, id string) error {
	return s.deleteRow(ctx, "responses", "response", id, notFound)
}

// deleteRow deletes the row of table whose id is id, in one write; none
// there is an error wrapping notFound. what names the row in errors.
func (s *Store) deleteRow(ctx context.Context, table, what, id string, notFound error) error {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("store: delete %s %q: %w", what, id, err)
	case n == 0:
		return fmt.Errorf("store: delete %s %q: %w", what, id, notFound)
	}
	return nil
}

// PruneResponses deletes the responses created before before, in
// transactions of at most pruneBatch rows, and returns how many it deleted.
func (s *Store) PruneResponses(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneLoop(ctx, `DELETE FROM responses WHERE id IN
		(SELECT id FROM responses WHERE created_at < ? ORDER BY created_at LIMIT ?)`, formatTime(before))
	if err != nil {
		return n, fmt.Errorf("store: prune responses before %s: %w", formatTime(before), err)
	}
	return n, nil
}

func scanResponse(row *sql.Row) (respstore.Response, error) {
	var r respstore.Response
	var created, input, response string
	if err := row.Scan(&r.ID, &created, &r.PreviousID, &r.Model, &input, &response); err != nil {
		return respstore.Response{}, err
	}
	t, err := parseTime(created)
	if err != nil {
		return respstore.Response{}, err
	}
	r.CreatedAt, r.Input, r.Response = t, json.RawMessage(input), json.RawMessage(response)
	return r, nil
}
