// Package reqlog is the request log behind /api/requests: one entry per
// finished inference request, kept in a Store (SQLite in modelbar, see
// backend/store) and written in batches off the request path. It records
// metadata only: never prompts, completions or keys.
package reqlog

import (
	"context"
	"time"
)

// Entry is one finished inference request.
type Entry struct {
	ID           int64     `json:"id"` // assigned by the Store; ascending in the order entries were added
	Time         time.Time `json:"time"`
	Method       string    `json:"method"`
	Path         string    `json:"path"`
	Protocol     string    `json:"protocol"`
	Model        string    `json:"model"`
	Route        string    `json:"route"` // the matched route's pattern; "" for none
	Backend      string    `json:"backend"`
	FallbackFrom []string  `json:"fallback_from"`
	Status       int       `json:"status"`
	Stream       bool      `json:"stream"`
	InputTokens  int64     `json:"input_tokens"`
	OutputTokens int64     `json:"output_tokens"`
	TTFBMS       int64     `json:"ttfb_ms"` // -1 when the answer never started
	DurationMS   int64     `json:"duration_ms"`
	Error        string    `json:"error,omitempty"`
}

// Store keeps entries. Its methods block on I/O, bounded by ctx, and must be
// safe for concurrent use: a Log inserts and prunes from its writer
// goroutine while Recent reads from the callers'.
type Store interface {
	// InsertRequests stores es in one transaction, all or none, assigning
	// ids in slice order; the entries' own IDs are ignored.
	InsertRequests(ctx context.Context, es []Entry) error
	// RecentRequests returns up to limit entries with ids above afterID,
	// newest first.
	RecentRequests(ctx context.Context, limit int, afterID int64) ([]Entry, error)
	// PruneRequests deletes the entries older than before (none if before
	// is zero) and all but the newest keep (no bound if keep <= 0), and
	// returns how many it deleted.
	PruneRequests(ctx context.Context, before time.Time, keep int) (int64, error)
}
