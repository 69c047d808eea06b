package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/store"
)

var reqT0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// entryAt is a small request-log entry stamped minutes after reqT0.
func entryAt(minutes int) reqlog.Entry {
	return reqlog.Entry{Time: reqT0.Add(time.Duration(minutes) * time.Minute), Method: "POST", Path: "/v1/chat/completions",
		Model: fmt.Sprintf("m%d", minutes), Status: 200, TTFBMS: -1}
}

func insertEntries(t *testing.T, s *store.Store, minutes ...int) {
	t.Helper()
	es := make([]reqlog.Entry, len(minutes))
	for i, m := range minutes {
		es[i] = entryAt(m)
	}
	if err := s.InsertRequests(t.Context(), es); err != nil {
		t.Fatalf("InsertRequests: %v", err)
	}
}

func requestIDs(t *testing.T, s *store.Store, limit int, after int64) []int64 {
	t.Helper()
	es, err := s.RecentRequests(t.Context(), limit, after)
	if err != nil {
		t.Fatalf("RecentRequests(%d, %d): %v", limit, after, err)
	}
	ids := []int64{}
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestRequests_RoundTripEveryField(t *testing.T) {
	s, _ := newStore(t)
	in := []reqlog.Entry{
		{ID: 99, Time: reqT0, Method: "POST", Path: "/v1/messages", Protocol: "anthropic", Model: "claude", Route: "claude-*",
			Backend: "openrouter", FallbackFrom: []string{"anthropic", "local"}, Status: 200, Stream: true,
			InputTokens: 1200, CachedTokens: 1024, OutputTokens: 345, OutputTokensSource: reqlog.TokensEstimated, TTFBMS: 812, DurationMS: 4021,
			Attempts: []reqlog.Attempt{
				{Backend: "anthropic", Model: "claude-x", Status: 529, Outcome: reqlog.OutcomeFailed, Reason: "HTTP 529", DurationMS: 40},
				{Backend: "local", Model: "claude", Status: 503, Outcome: reqlog.OutcomeSkipped, Reason: "cooling down"},
				{Backend: "openrouter", Model: "anthropic/claude", Status: 200, Outcome: reqlog.OutcomeAnswered, Retry: 1, DurationMS: 3900},
			}},
		{Time: reqT0.Add(time.Second), Method: "POST", Path: "/v1/chat/completions", Protocol: "openai", Model: "gpt \"x\"",
			Backend: "local", Status: 502, TTFBMS: -1, DurationMS: 3, Error: "upstream: boom ✗"},
	}
	if err := s.InsertRequests(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecentRequests(t.Context(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []reqlog.Entry{in[1], in[0]}
	want[0].ID, want[1].ID = 2, 1
	want[0].FallbackFrom = []string{} // nil is stored as an empty list
	want[0].Attempts = []reqlog.Attempt{}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RecentRequests (-want +got):\n%s", diff)
	}
}

func TestRequests_RecentNewestFirst(t *testing.T) {
	s, _ := newStore(t)
	if got := requestIDs(t, s, 10, 0); len(got) != 0 {
		t.Fatalf("empty log returned %v", got)
	}
	insertEntries(t, s, 0, 1, 2)
	insertEntries(t, s, 3, 4)
	tests := []struct {
		name  string
		limit int
		after int64
		want  []int64
	}{
		{"all", 10, 0, []int64{5, 4, 3, 2, 1}},
		{"limit", 2, 0, []int64{5, 4}},
		{"after", 10, 3, []int64{5, 4}},
		{"after and limit", 1, 3, []int64{5}},
		{"nothing newer", 10, 5, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, requestIDs(t, s, tt.limit, tt.after)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequests_Prune(t *testing.T) {
	tests := []struct {
		name        string
		before      time.Time
		keep        int
		wantDeleted int64
		wantIDs     []int64
	}{
		{"nothing", time.Time{}, 0, 0, []int64{5, 4, 3, 2, 1}},
		{"by age", reqT0.Add(2 * time.Minute), 0, 2, []int64{5, 4, 3}},
		{"age is exclusive", reqT0.Add(2*time.Minute + time.Nanosecond), 0, 3, []int64{5, 4}},
		{"by count", time.Time{}, 2, 3, []int64{5, 4}},
		{"count above size", time.Time{}, 10, 0, []int64{5, 4, 3, 2, 1}},
		{"both", reqT0.Add(time.Minute), 3, 2, []int64{5, 4, 3}},
		{"everything", reqT0.Add(time.Hour), 0, 5, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			insertEntries(t, s, 0, 1, 2, 3, 4)
			n, err := s.PruneRequests(t.Context(), tt.before, tt.keep)
			if err != nil || n != tt.wantDeleted {
				t.Errorf("PruneRequests = %d, %v; want %d", n, err, tt.wantDeleted)
			}
			if diff := cmp.Diff(tt.wantIDs, requestIDs(t, s, 10, 0)); diff != "" {
				t.Errorf("left (-want +got):\n%s", diff)
			}
		})
	}
}

// Pruning deletes in batches; many rows go in several transactions and
// ids are never handed out again, even once the table was emptied, so a
// poller's ?after= keeps working.
func TestRequests_PruneManyAndIDsKeepGrowing(t *testing.T) {
	s, _ := newStore(t)
	const n = 12_000
	es := make([]reqlog.Entry, n)
	for i := range es {
		es[i] = entryAt(0)
	}
	if err := s.InsertRequests(t.Context(), es); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PruneRequests(t.Context(), reqT0.Add(time.Minute), 0); err != nil || got != n {
		t.Fatalf("PruneRequests = %d, %v; want %d", got, err, n)
	}
	insertEntries(t, s, 5)
	if diff := cmp.Diff([]int64{n + 1}, requestIDs(t, s, 10, n)); diff != "" {
		t.Errorf("ids after emptying (-want +got):\n%s", diff)
	}
}

// A database at schema 2 (before the request log) gains the requests table.
func TestOpen_UpgradesSchema2ToRequestLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelbar.db")
	db := rawDB(t, path)
	for _, f := range []string{"migrations/0001_init.sql", "migrations/0002_provider_max_tokens.sql"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if _, err := db.Exec("PRAGMA user_version = 2"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := openStore(t, path)
	insertEntries(t, s, 1)
	if diff := cmp.Diff([]int64{1}, requestIDs(t, s, 10, 0)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestRequests_InsertNothing(t *testing.T) {
	s, _ := newStore(t)
	if err := s.InsertRequests(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := requestIDs(t, s, 10, 0); len(got) != 0 {
		t.Errorf("got %v", got)
	}
}
