package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/reqlog"
)

var (
	_ reqlog.Store           = (*Store)(nil)
	_ reqlog.RouteTokenStore = (*Store)(nil)
)

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
			fallback_from, status, stream, input_tokens, output_tokens, ttfb_ms, duration_ms, error,
			attempts, output_tokens_source, cached_tokens)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
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
	steps := reqlog.TrimAttempts(e.Attempts)
	if steps == nil {
		steps = []reqlog.Attempt{}
	}
	stepsJSON, err := json.Marshal(steps)
	if err != nil {
		return fmt.Errorf("attempts: %w", err)
	}
	_, err = stmt.ExecContext(ctx, formatTime(e.Time), e.Method, e.Path, e.Protocol, e.Model, e.Route, e.Backend,
		string(fromJSON), e.Status, e.Stream, e.InputTokens, e.OutputTokens, e.TTFBMS, e.DurationMS, e.Error,
		string(stepsJSON), e.OutputTokensSource, e.CachedTokens)
	return err
}

// requestColumns are the columns scanRequest reads, in its order.
const requestColumns = `id, time, method, path, protocol, model, route, backend,
	fallback_from, status, stream, input_tokens, output_tokens, ttfb_ms, duration_ms, error,
	attempts, output_tokens_source, cached_tokens`

// errorCondition is reqlog.Entry.IsError in SQL.
const errorCondition = `((status >= 400 AND status <> 499) OR error <> '')`

// RecentRequests returns up to limit request-log entries with ids above
// afterID, newest first.
func (s *Store) RecentRequests(ctx context.Context, limit int, afterID int64) ([]reqlog.Entry, error) {
	return s.QueryRequests(ctx, reqlog.Query{Limit: limit, AfterID: afterID})
}

// QueryRequests returns the request-log entries q selects, newest first.
// The backend filter matches the backend that answered and those failed
// over from.
func (s *Store) QueryRequests(ctx context.Context, q reqlog.Query) ([]reqlog.Entry, error) {
	where, args := []string{"id > ?"}, []any{q.AfterID}
	if q.Errors {
		where = append(where, errorCondition)
	}
	if q.Failovers {
		where = append(where, "json_array_length(fallback_from) > 0")
	}
	if q.Backend != "" {
		where = append(where, "(backend = ? OR EXISTS (SELECT 1 FROM json_each(requests.fallback_from) WHERE value = ?))")
		args = append(args, q.Backend, q.Backend)
	}
	args = append(args, q.Limit)
	rows, err := s.r.QueryContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT ?`, args...)
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

// Request returns the request-log entry with that id, or an error
// wrapping reqlog.ErrNotFound.
func (s *Store) Request(ctx context.Context, id int64) (reqlog.Entry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE id = ?`, id)
	if err != nil {
		return reqlog.Entry{}, fmt.Errorf("store: request %d: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return reqlog.Entry{}, fmt.Errorf("store: request %d: %w", id, err)
		}
		return reqlog.Entry{}, fmt.Errorf("store: request %d: %w", id, reqlog.ErrNotFound)
	}
	e, err := scanRequest(rows)
	if err != nil {
		return reqlog.Entry{}, fmt.Errorf("store: request %d: %w", id, err)
	}
	return e, nil
}

// RequestTotals sums the request-log entries since a time per backend,
// busiest first, the medians computed in SQL with window functions.
func (s *Store) RequestTotals(ctx context.Context, since time.Time) ([]reqlog.Totals, error) {
	rows, err := s.r.QueryContext(ctx, `WITH recent AS (
			SELECT backend, status, error, fallback_from, input_tokens, output_tokens, duration_ms, ttfb_ms
			FROM requests WHERE time >= ?),
		dur AS (SELECT backend, duration_ms AS v,
			ROW_NUMBER() OVER (PARTITION BY backend ORDER BY duration_ms) AS rn,
			COUNT(*) OVER (PARTITION BY backend) AS n FROM recent),
		ttfb AS (SELECT backend, ttfb_ms AS v,
			ROW_NUMBER() OVER (PARTITION BY backend ORDER BY ttfb_ms) AS rn,
			COUNT(*) OVER (PARTITION BY backend) AS n FROM recent WHERE ttfb_ms >= 0)
		SELECT r.backend, COUNT(*),
			SUM(`+errorCondition+`), SUM(r.status = 499), SUM(json_array_length(r.fallback_from) > 0),
			SUM(r.input_tokens), SUM(r.output_tokens),
			COALESCE((SELECT v FROM dur WHERE dur.backend = r.backend AND rn = (n + 1) / 2), -1),
			COALESCE((SELECT v FROM ttfb WHERE ttfb.backend = r.backend AND rn = (n + 1) / 2), -1)
		FROM recent r GROUP BY r.backend`, formatTime(since))
	if err != nil {
		return nil, fmt.Errorf("store: request totals: %w", err)
	}
	defer rows.Close()
	out := []reqlog.Totals{}
	for rows.Next() {
		var t reqlog.Totals
		if err := rows.Scan(&t.Backend, &t.Requests, &t.Errors, &t.Cancelled, &t.Failovers,
			&t.InputTokens, &t.OutputTokens, &t.P50DurationMS, &t.P50TTFBMS); err != nil {
			return nil, fmt.Errorf("store: request totals: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: request totals: %w", err)
	}
	reqlog.SortTotals(out)
	return out, nil
}

func scanRequest(rows *sql.Rows) (reqlog.Entry, error) {
	var e reqlog.Entry
	var t, from, steps string
	if err := rows.Scan(&e.ID, &t, &e.Method, &e.Path, &e.Protocol, &e.Model, &e.Route, &e.Backend,
		&from, &e.Status, &e.Stream, &e.InputTokens, &e.OutputTokens, &e.TTFBMS, &e.DurationMS, &e.Error,
		&steps, &e.OutputTokensSource, &e.CachedTokens); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(steps), &e.Attempts); err != nil {
		return e, fmt.Errorf("request %d: attempts: %w", e.ID, err)
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

// RouteTokens sums input plus output tokens of the entries since a time,
// per route pattern (entries of no route left out). It implements
// reqlog.RouteTokenStore.
func (s *Store) RouteTokens(ctx context.Context, since time.Time) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT route, SUM(input_tokens + output_tokens) FROM requests
		WHERE time >= ? AND route != '' GROUP BY route`, formatTime(since))
	if err != nil {
		return nil, fmt.Errorf("store: route tokens: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var route string
		var n int64
		if err := rows.Scan(&route, &n); err != nil {
			return nil, fmt.Errorf("store: route tokens: %w", err)
		}
		out[route] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: route tokens: %w", err)
	}
	return out, nil
}
