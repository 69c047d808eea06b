package budget_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/budget"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func ptr(v int64) *int64 { return &v }

func TestGuard_RequestsPerMinute(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.Local)}
	g := budget.New(c.now)
	lim := budget.Limits{RequestsPerMinute: ptr(2)}
	for i, want := range []bool{true, true, false} {
		if got := g.Admit(1, lim) == nil; got != want {
			t.Fatalf("request %d admitted %v, want %v", i, got, want)
		}
	}
	c.add(40 * time.Second)
	ex := g.Admit(1, lim)
	if ex == nil || ex.Limit != "max_requests_per_minute" || ex.RetryAfter != 20*time.Second || ex.Max != 2 || ex.Used != 2 {
		t.Fatalf("refusal = %+v, want max_requests_per_minute after 20s", ex)
	}
	if g.Admit(2, lim) != nil {
		t.Error("route 2 refused: counters must be per route")
	}
	c.add(20 * time.Second)
	if ex := g.Admit(1, lim); ex != nil {
		t.Errorf("after the window: refused %+v", ex)
	}
	if diff := cmp.Diff(budget.Usage{RequestsThisMinute: 1}, g.Usage(1)); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestGuard_TokensPerDay(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 23, 0, 0, 0, time.Local)}
	g := budget.New(c.now)
	lim := budget.Limits{TokensPerDay: ptr(100)}
	for _, tt := range []struct {
		add   int64
		admit bool
	}{{0, true}, {60, true}, {39, true}, {1, false}} {
		g.AddTokens(1, tt.add)
		if got := g.Admit(1, lim) == nil; got != tt.admit {
			t.Fatalf("after +%d tokens: admitted %v, want %v", tt.add, got, tt.admit)
		}
	}
	ex := g.Admit(1, lim)
	if ex == nil || ex.Limit != "max_tokens_per_day" || ex.RetryAfter != time.Hour {
		t.Fatalf("refusal = %+v, want max_tokens_per_day until midnight (1h)", ex)
	}
	c.add(time.Hour)
	if ex := g.Admit(1, lim); ex != nil {
		t.Errorf("after midnight: refused %+v", ex)
	}
	if got := g.Usage(1).TokensToday; got != 0 {
		t.Errorf("tokens today after midnight = %d, want 0", got)
	}
}

func TestGuard_Concurrent(t *testing.T) {
	g := budget.New(nil)
	lim := budget.Limits{RequestsPerMinute: ptr(50)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := g.Admit(7, lim) == nil
			g.AddTokens(7, 1)
			if ok {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if admitted != 50 {
		t.Errorf("admitted %d of 200, want exactly 50", admitted)
	}
	if got := g.Usage(7).TokensToday; got != 200 {
		t.Errorf("tokens = %d, want 200", got)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {time.Hour, 3600}} {
		if got := budget.RetryAfterSeconds(tt.d); got != tt.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}
