package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/store"
)

// queryLog is a log of six requests for the filter and totals tests:
// ids 1..6, minutes 0..5 after reqT0.
func queryLog(t *testing.T, s *store.Store) {
	t.Helper()
	e := func(min int, backend string, status int, from []string, errMsg string, in, out, ttfb, dur int64) reqlog.Entry {
		x := entryAt(min)
		x.Backend, x.Status, x.FallbackFrom, x.Error = backend, status, from, errMsg
		x.InputTokens, x.OutputTokens, x.TTFBMS, x.DurationMS = in, out, ttfb, dur
		return x
	}
	es := []reqlog.Entry{
		e(0, "fake", 200, nil, "", 10, 20, 100, 1000),
		e(1, "fake", 499, nil, "", 10, 5, 120, 400),                                 // cancelled: no error
		e(2, "backup", 200, []string{"dead"}, "", 7, 9, 300, 900),                   // failover
		e(3, "dead", 502, nil, "provider dead: connection failed", 0, 0, -1, 30),    // error
		e(4, "fake", 200, nil, "upstream fake broke off the stream", 3, 4, 90, 700), // broke after it began
		e(5, "backup", 200, []string{"dead", "fake"}, "", 1, 2, 200, 500),
	}
	if err := s.InsertRequests(t.Context(), es); err != nil {
		t.Fatal(err)
	}
}

func TestQueryRequests_Filters(t *testing.T) {
	s, _ := newStore(t)
	queryLog(t, s)
	tests := []struct {
		name string
		q    reqlog.Query
		want []int64
	}{
		{"none", reqlog.Query{Limit: 10}, []int64{6, 5, 4, 3, 2, 1}},
		{"errors", reqlog.Query{Limit: 10, Errors: true}, []int64{5, 4}},
		{"failovers", reqlog.Query{Limit: 10, Failovers: true}, []int64{6, 3}},
		{"backend answered or failed over from", reqlog.Query{Limit: 10, Backend: "dead"}, []int64{6, 4, 3}},
		{"backend fake", reqlog.Query{Limit: 10, Backend: "fake"}, []int64{6, 5, 2, 1}},
		{"filters combine", reqlog.Query{Limit: 10, Backend: "fake", Failovers: true}, []int64{6}},
		{"after and limit keep their meaning", reqlog.Query{Limit: 1, AfterID: 3, Backend: "fake"}, []int64{6}},
		{"unknown backend", reqlog.Query{Limit: 10, Backend: "nope"}, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := s.QueryRequests(t.Context(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			ids := []int64{}
			for _, e := range es {
				ids = append(ids, e.ID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The in-memory store filters the same way.
			var m reqlog.Memory
			all, _ := s.QueryRequests(t.Context(), reqlog.Query{Limit: 100})
			for i := len(all) - 1; i >= 0; i-- {
				m.InsertRequests(t.Context(), all[i:i+1])
			}
			mes, _ := m.QueryRequests(t.Context(), tt.q)
			mids := []int64{}
			for _, e := range mes {
				mids = append(mids, e.ID)
			}
			if diff := cmp.Diff(tt.want, mids); diff != "" {
				t.Errorf("memory store (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequest_ByID(t *testing.T) {
	s, _ := newStore(t)
	queryLog(t, s)
	e, err := s.Request(t.Context(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != 3 || e.Backend != "backup" || len(e.FallbackFrom) != 1 || e.Attempts == nil {
		t.Errorf("Request(3) = %+v", e)
	}
	if _, err := s.Request(t.Context(), 42); !errors.Is(err, reqlog.ErrNotFound) {
		t.Errorf("Request(42) = %v, want ErrNotFound", err)
	}
}

func TestRequestTotals_PerBackendSince(t *testing.T) {
	s, _ := newStore(t)
	queryLog(t, s)
	tests := []struct {
		name  string
		since time.Time
		want  []reqlog.Totals
	}{
		{"all", reqT0.Add(-time.Hour), []reqlog.Totals{
			{Backend: "fake", Requests: 3, Errors: 1, Cancelled: 1, InputTokens: 23, OutputTokens: 29, P50DurationMS: 700, P50TTFBMS: 100},
			{Backend: "backup", Requests: 2, Failovers: 2, InputTokens: 8, OutputTokens: 11, P50DurationMS: 500, P50TTFBMS: 200},
			{Backend: "dead", Requests: 1, Errors: 1, P50DurationMS: 30, P50TTFBMS: -1},
		}},
		{"since minute 3", reqT0.Add(3 * time.Minute), []reqlog.Totals{
			{Backend: "backup", Requests: 1, Failovers: 1, InputTokens: 1, OutputTokens: 2, P50DurationMS: 500, P50TTFBMS: 200},
			{Backend: "dead", Requests: 1, Errors: 1, P50DurationMS: 30, P50TTFBMS: -1},
			{Backend: "fake", Requests: 1, Errors: 1, InputTokens: 3, OutputTokens: 4, P50DurationMS: 700, P50TTFBMS: 90},
		}},
		{"nothing since", reqT0.Add(time.Hour), []reqlog.Totals{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RequestTotals(t.Context(), tt.since)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RequestTotals (-want +got):\n%s", diff)
			}
			all, _ := s.QueryRequests(t.Context(), reqlog.Query{Limit: 100})
			var in []reqlog.Entry
			for _, e := range all {
				if !e.Time.Before(tt.since) {
					in = append(in, e)
				}
			}
			if diff := cmp.Diff(tt.want, reqlog.SumTotals(in)); diff != "" {
				t.Errorf("SumTotals disagrees with SQL (-want +got):\n%s", diff)
			}
		})
	}
}

// A database at schema 9, with a logged request, gains the attempts: the
// old row reads with an empty chain.
func TestOpen_UpgradesRequestLogToAttempts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelbar.db")
	db := rawDB(t, path)
	files, _ := filepath.Glob("migrations/000[1-9]_*.sql")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if _, err := db.Exec(`INSERT INTO requests (time, method, path, status) VALUES ('2026-03-01T12:00:00.000000000Z', 'POST', '/v1/chat/completions', 200);
		PRAGMA user_version = 9`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := openStore(t, path)
	e, err := s.Request(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]reqlog.Attempt{}, e.Attempts); diff != "" || e.OutputTokensSource != "" {
		t.Errorf("old row: attempts %v, source %q", e.Attempts, e.OutputTokensSource)
	}
}
