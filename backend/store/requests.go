package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/modelbar/modelbar/backend/reqlog"
)

var _ reqlog.Store = (*Store)(nil)

// pruneBatch bounds the rows one pruning transaction deletes, so the first
// prune after a long time does not hold the write lock (and every config
// change and request-log insert behind it) for long.
const pruneBatch = 5000

// InsertRequests appends es to the request log in one transaction, all or
// none. The table assigns the ids, ascending in slice order; es's own IDs
// are ignored.
func (s *Store) InsertRequests(ctx context.Context, es []reqlog.Entry) error {
	if len(es) == 0 {
		return nil
	}
	err := s.writeRelaxed(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO requests (time, method, path, protocol, model, route, backend,
			fallback_from, status, stream, input_tokens, output_tokens, ttfb_ms, duration_ms, error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range es {
			if err := insertRequest(ctx, stmt, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: insert %d requests: %w", len(es), err)
	}
	return nil
}

func insertRequest(ctx context.Context, stmt *sql.Stmt, e reqlog.Entry) error {
	from := e.FallbackFrom
	if from == nil {
		from = []string{}
	}
	fromJSON, err := json.Marshal(from)
	if err != nil {
		return fmt.Errorf("fallback_from: %w", err)
	}
	_, err = stmt.ExecContext(ctx, formatTime(e.Time), e.Method, e.Path, e.Protocol, e.Model, e.Route, e.Backend,
		string(fromJSON), e.Status, e.Stream, e.InputTokens, e.OutputTokens, e.TTFBMS, e.DurationMS, e.Error)
	return err
}

// RecentRequests returns up to limit request-log entries with ids above
// afterID, newest first.
func (s *Store) RecentRequests(ctx context.Context, limit int, afterID int64) ([]reqlog.Entry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, time, method, path, protocol, model, route, backend,
		fallback_from, status, stream, input_tokens, output_tokens, ttfb_ms, duration_ms, error
		FROM requests WHERE id > ? ORDER BY id DESC LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list requests: %w", err)
	}
	defer rows.Close()
	out := []reqlog.Entry{}
	for rows.Next() {
		e, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list requests: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list requests: %w", err)
	}
	return out, nil
}

func scanRequest(rows *sql.Rows) (reqlog.Entry, error) {
	var e reqlog.Entry
	var t, from string
	if err := rows.Scan(&e.ID, &t, &e.Method, &e.Path, &e.Protocol, &e.Model, &e.Route, &e.Backend,
		&from, &e.Status, &e.Stream, &e.InputTokens, &e.OutputTokens, &e.TTFBMS, &e.DurationMS, &e.Error); err != nil {
		return e, err
	}
	var err error
	if e.Time, err = parseTime(t); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(from), &e.FallbackFrom); err != nil {
		return e, fmt.Errorf("request %d: fallback_from: %w", e.ID, err)
	}
	return e, nil
}

// PruneRequests deletes the request-log entries older than before (none if
// before is zero) and all but the newest keep (no bound if keep <= 0), in
// transactions of at most pruneBatch rows, and returns how many it deleted.
// An error may come after some rows are gone; the count says how many.
func (s *Store) PruneRequests(ctx context.Context, before time.Time, keep int) (int64, error) {
	var total int64
	if !before.IsZero() {
		n, err := s.pruneLoop(ctx, `DELETE FROM requests WHERE id IN
			(SELECT id FROM requests WHERE time < ? ORDER BY time LIMIT ?)`, formatTime(before))
		total += n
		if err != nil {
			return total, fmt.Errorf("store: prune requests before %s: %w", formatTime(before), err)
		}
	}
	if keep > 0 {
		n, err := s.pruneLoop(ctx, `DELETE FROM requests WHERE id IN
			(SELECT id FROM requests WHERE id <= (SELECT id FROM requests ORDER BY id DESC LIMIT 1 OFFSET ?) ORDER BY id LIMIT ?)`, keep)
		total += n
		if err != nil {
			return total, fmt.Errorf("store: prune requests beyond %d: %w", keep, err)
		}
	}
	return total, nil
}

// pruneLoop runs query (whose last parameter is the batch size) until it
// deletes fewer than a batch.
func (s *Store) pruneLoop(ctx context.Context, query string, arg any) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, query, arg, pruneBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}
