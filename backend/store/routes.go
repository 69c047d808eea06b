package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Route maps requested model names to a backend. The store does not validate
// its fields; the caller does.
type Route struct {
	ID           int64
	ModelPattern string
	Backend      string   // "local" or a provider name
	BackendModel string   // "" = send the requested model name
	Fallbacks    []string // ordered; "backend" or "backend:model"; never nil when read back
	Priority     int
	Enabled      bool
	Hidden       bool   // left out of the model list; it still routes
	API          string // "" or "responses": the backend's model speaks only the Responses API
	// Budget: nil is no limit.
	MaxRequestsPerMinute *int64
	MaxTokensPerDay      *int64
	// Targets is the route's group in route order; never empty when read
	// back. Written, its first member is the route's Backend and
	// BackendModel (an empty Targets is written as the group of Backend).
	Targets    []Member
	Policy     string // "" is written as "first"
	MaxContext *int64 // nil: unknown
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Member is one backend of a route's group.
type Member struct {
	Backend string `json:"backend"`
	Model   string `json:"model"`
	Weight  int    `json:"weight"`
}

const routeCols = `id, model_pattern, backend, backend_model, fallbacks, priority, enabled, hidden, api, max_requests_per_minute, max_tokens_per_day, targets, policy, max_context, created_at, updated_at`

// ListRoutes returns all routes ordered by id; an empty store gives an
// empty, non-nil slice.
func (s *Store) ListRoutes(ctx context.Context) ([]Route, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+routeCols+` FROM routes ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list routes: %w", err)
	}
	defer rows.Close()
	rs := []Route{}
	for rows.Next() {
		r, err := scanRoute(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list routes: %w", err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list routes: %w", err)
	}
	return rs, nil
}

// GetRoute returns the route with the given id, or an error wrapping
// ErrNotFound.
func (s *Store) GetRoute(ctx context.Context, id int64) (Route, error) {
	r, err := scanRoute(s.r.QueryRowContext(ctx, `SELECT `+routeCols+` FROM routes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Route{}, fmt.Errorf("store: get route %d: %w", id, err)
	}
	return r, nil
}

// CreateRoute inserts r with a new id and returns the stored row. r.ID,
// r.CreatedAt and r.UpdatedAt are ignored; ids are never reused.
func (s *Store) CreateRoute(ctx context.Context, r Route) (Route, error) {
	fallbacks, targets, err := encodeRoute(&r)
	if err != nil {
		return Route{}, fmt.Errorf("store: create route: %w", err)
	}
	var out Route
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		t := formatTime(now())
		row := tx.QueryRowContext(ctx, `INSERT INTO routes
			(model_pattern, backend, backend_model, fallbacks, priority, enabled, hidden, api, max_requests_per_minute, max_tokens_per_day, targets, policy, max_context, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+routeCols,
			r.ModelPattern, r.Backend, r.BackendModel, fallbacks, r.Priority, r.Enabled, r.Hidden, r.API, r.MaxRequestsPerMinute, r.MaxTokensPerDay,
			targets, r.Policy, r.MaxContext, t, t)
		out, err = scanRoute(row)
		return err
	})
	if err != nil {
		return Route{}, fmt.Errorf("store: create route: %w", err)
	}
	return out, nil
}

// UpdateRoute replaces the route with id r.ID and returns the stored row, or
// an error wrapping ErrNotFound. CreatedAt is kept; UpdatedAt is set to now.
func (s *Store) UpdateRoute(ctx context.Context, r Route) (Route, error) {
	fallbacks, targets, err := encodeRoute(&r)
	if err != nil {
		return Route{}, fmt.Errorf("store: update route %d: %w", r.ID, err)
	}
	var out Route
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		row := tx.QueryRowContext(ctx, `UPDATE routes
			SET model_pattern = ?, backend = ?, backend_model = ?, fallbacks = ?, priority = ?, enabled = ?, hidden = ?, api = ?, max_requests_per_minute = ?, max_tokens_per_day = ?,
			    targets = ?, policy = ?, max_context = ?, updated_at = ?
			WHERE id = ? RETURNING `+routeCols,
			r.ModelPattern, r.Backend, r.BackendModel, fallbacks, r.Priority, r.Enabled, r.Hidden, r.API, r.MaxRequestsPerMinute, r.MaxTokensPerDay,
			targets, r.Policy, r.MaxContext, formatTime(now()), r.ID)
		out, err = scanRoute(row)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return Route{}, fmt.Errorf("store: update route %d: %w", r.ID, err)
	}
	return out, nil
}

// DeleteRoute deletes the route with the given id, or returns an error
// wrapping ErrNotFound.
func (s *Store) DeleteRoute(ctx context.Context, id int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM routes WHERE id = ?`, id)
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
		return fmt.Errorf("store: delete route %d: %w", id, err)
	}
	return nil
}

// encodeRoute encodes r's lists for their columns and settles its group:
// an empty Targets becomes the group of Backend (weight 1); otherwise
// Backend and BackendModel are taken from the first member, so the
// columns never disagree. An empty Policy becomes "first".
func encodeRoute(r *Route) (fallbacks, targets string, err error) {
	if len(r.Targets) == 0 {
		r.Targets = []Member{{Backend: r.Backend, Model: r.BackendModel, Weight: 1}}
	}
	r.Backend, r.BackendModel = r.Targets[0].Backend, r.Targets[0].Model
	if r.Policy == "" {
		r.Policy = "first"
	}
	if fallbacks, err = encodeFallbacks(r.Fallbacks); err != nil {
		return "", "", err
	}
	b, err := json.Marshal(r.Targets)
	if err != nil {
		return "", "", fmt.Errorf("encode targets: %w", err)
	}
	return fallbacks, string(b), nil
}

// encodeFallbacks stores fallbacks as a JSON array; nil becomes "[]".
func encodeFallbacks(fallbacks []string) (string, error) {
	if fallbacks == nil {
		fallbacks = []string{}
	}
	b, err := json.Marshal(fallbacks)
	if err != nil {
		return "", fmt.Errorf("encode fallbacks: %w", err)
	}
	return string(b), nil
}

func scanRoute(sc scanner) (Route, error) {
	var r Route
	var fallbacks, targets, created, updated string
	err := sc.Scan(&r.ID, &r.ModelPattern, &r.Backend, &r.BackendModel, &fallbacks,
		&r.Priority, &r.Enabled, &r.Hidden, &r.API, &r.MaxRequestsPerMinute, &r.MaxTokensPerDay,
		&targets, &r.Policy, &r.MaxContext, &created, &updated)
	if err != nil {
		return Route{}, err
	}
	if err := json.Unmarshal([]byte(fallbacks), &r.Fallbacks); err != nil {
		return Route{}, fmt.Errorf("decode fallbacks of route %d: %w", r.ID, err)
	}
	if r.Fallbacks == nil {
		r.Fallbacks = []string{}
	}
	if err := json.Unmarshal([]byte(targets), &r.Targets); err != nil {
		return Route{}, fmt.Errorf("decode targets of route %d: %w", r.ID, err)
	}
	if len(r.Targets) == 0 { // written by a build that did not know groups
		r.Targets = []Member{{Backend: r.Backend, Model: r.BackendModel, Weight: 1}}
	}
	if r.CreatedAt, err = parseTime(created); err != nil {
		return Route{}, err
	}
	if r.UpdatedAt, err = parseTime(updated); err != nil {
		return Route{}, err
	}
	return r, nil
}
