// Package reqlog is the request log behind /api/requests: one entry per
// finished inference request, kept in a Store (SQLite in modelbar, see
// backend/store) and written in batches off the request path. It records
// metadata only: never prompts, completions or keys.
package reqlog

import (
	"context"
	"errors"
	"slices"
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
	// Status is the HTTP status the client got; 499 when the client went
	// away first, a stream it stopped included.
	Status       int   `json:"status"`
	Stream       bool  `json:"stream"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	// CachedTokens is the part of InputTokens the backend read from its
	// prompt cache (the local engine's reused prefix, a provider's cache
	// hits); 0 when none or not reported.
	CachedTokens int64 `json:"cached_tokens"`
	// OutputTokensSource says where OutputTokens comes from: one of the
	// Tokens* constants ("" when nothing was produced).
	OutputTokensSource string `json:"output_tokens_source"`
	TTFBMS             int64  `json:"ttfb_ms"` // -1 when the answer never started
	DurationMS         int64  `json:"duration_ms"`
	Error              string `json:"error,omitempty"`
	// Attempts is the failover chain as it was walked: one step per try of
	// a backend, retries and backends skipped in cooldown included, in
	// order; the last one answered or failed for the client. Empty for
	// requests the gateway answered by itself (a bad request, an unknown
	// model).
	Attempts []Attempt `json:"attempts"`
}

// Where an entry's output token count comes from.
const (
	TokensUsage     = "usage"     // the backend's own usage report
	TokensCounted   = "counted"   // the local engine's streamed tokens, counted
	TokensEstimated = "estimated" // estimated from the text streamed (no usage came, or the client stopped the stream first)
)

// Outcomes of an Attempt.
const (
	OutcomeAnswered  = "answered"  // the backend's answer went to the client (an error it gave the client included)
	OutcomeFailed    = "failed"    // failed before the first byte; the chain went on, or this was its last backend
	OutcomeSkipped   = "skipped"   // not tried: cooling down after repeated failures
	OutcomeCancelled = "cancelled" // the client went away during this try
)

// MaxAttempts bounds the steps an entry keeps: a long chain with many
// retries keeps its first steps and its last.
const MaxAttempts = 32

// Attempt is one step of a request's failover chain. Reason is modelbar's
// own short words (a status, a timeout, a refused connection, a
// cooldown), never a provider's message, which may quote the prompt.
type Attempt struct {
	Backend    string `json:"backend"`
	Model      string `json:"model"`
	Status     int    `json:"status"` // the backend's HTTP status, or what its failure maps to (502 unreachable, 504 timeout, 503 skipped)
	Outcome    string `json:"outcome"`
	Reason     string `json:"reason,omitempty"`
	Retry      int    `json:"retry,omitempty"` // 1 for the first retry of the same backend
	DurationMS int64  `json:"duration_ms"`
}

// Query selects entries: up to Limit with ids above AfterID, newest
// first, narrowed by the filters that are set.
type Query struct {
	Limit   int
	AfterID int64
	// Errors keeps the failed requests: a status of 400 or more other
	// than 499 (a client that left is no failure), or a stream that broke
	// after it began.
	Errors bool
	// Failovers keeps the requests that fell back from a backend.
	Failovers bool
	// Backend keeps the requests that tried this backend: answered by it
	// or failed over from it.
	Backend string
}

// Totals sums one backend's requests over a period (by the backend that
// answered or failed last).
type Totals struct {
	Backend      string `json:"backend"`
	Requests     int64  `json:"requests"`
	Errors       int64  `json:"errors"`    // as Query.Errors counts them
	Cancelled    int64  `json:"cancelled"` // status 499
	Failovers    int64  `json:"failovers"` // answered after another backend failed
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
	// P50DurationMS and P50TTFBMS are the medians of the whole request and
	// of its time to first byte (over the requests whose answer began; -1
	// when none did).
	P50DurationMS int64 `json:"p50_duration_ms"`
	P50TTFBMS     int64 `json:"p50_ttfb_ms"`
}

// ErrNotFound: no entry has that id (never stored, or pruned).
var ErrNotFound = errors.New("request log: no such request")

// Store keeps entries. Its methods block on I/O, bounded by ctx, and must be
// safe for concurrent use: a Log inserts and prunes from its writer
// goroutine while the readers call from theirs.
type Store interface {
	// InsertRequests stores es in one transaction, all or none, assigning
	// ids in slice order; the entries' own IDs are ignored.
	InsertRequests(ctx context.Context, es []Entry) error
	// QueryRequests returns the entries q selects, newest first.
	QueryRequests(ctx context.Context, q Query) ([]Entry, error)
	// Request returns the entry with that id, or ErrNotFound.
	Request(ctx context.Context, id int64) (Entry, error)
	// RequestTotals sums the entries since a time, per backend, busiest
	// first.
	RequestTotals(ctx context.Context, since time.Time) ([]Totals, error)
	// PruneRequests deletes the entries older than before (none if before
	// is zero) and all but the newest keep (no bound if keep <= 0), and
	// returns how many it deleted.
	PruneRequests(ctx context.Context, before time.Time, keep int) (int64, error)
}

// IsError reports whether an entry counts as failed (Query.Errors).
func (e Entry) IsError() bool {
	return (e.Status >= 400 && e.Status != StatusClientClosed) || e.Error != ""
}

// StatusClientClosed is the status of a request whose client went away
// before its answer was complete (nginx's 499).
const StatusClientClosed = 499

// Matches reports whether q's filters keep e (its Limit and AfterID
// aside): for stores that filter in memory.
func (q Query) Matches(e Entry) bool {
	switch {
	case q.Errors && !e.IsError():
		return false
	case q.Failovers && len(e.FallbackFrom) == 0:
		return false
	case q.Backend != "" && e.Backend != q.Backend && !slices.Contains(e.FallbackFrom, q.Backend):
		return false
	}
	return true
}

// TrimAttempts keeps at most MaxAttempts steps: the first ones and the
// last, which answered.
func TrimAttempts(as []Attempt) []Attempt {
	if len(as) <= MaxAttempts {
		return as
	}
	out := append([]Attempt{}, as[:MaxAttempts-1]...)
	return append(out, as[len(as)-1])
}
