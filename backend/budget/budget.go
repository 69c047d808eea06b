// Package budget keeps the per-route budget counters: requests in the
// current minute and tokens since local midnight. It is pure bookkeeping —
// no HTTP, no storage — and safe for concurrent use.
//
// Requests per minute is a fixed window: a route's window opens with the
// first request after the previous one closed and lasts one minute; at most
// the limit of requests is admitted in it, refused requests do not count.
// (A fixed window can admit up to twice the limit across a window's edge;
// the cap is a guard, not a meter.) Tokens per day counts the input plus
// output tokens of finished requests since local midnight: a request that
// starts under the limit runs to its end, so the day can end a little over
// it, and the next request is refused until midnight.
package budget

import (
	"math"
	"sync"
	"time"
)

// Window is the length of a requests-per-minute window.
const Window = time.Minute

// Limits is a route's budget; nil is no limit.
type Limits struct {
	RequestsPerMinute *int64
	TokensPerDay      *int64
}

// Exceeded says which limit refused a request and when to try again.
type Exceeded struct {
	Limit      string // "max_requests_per_minute" or "max_tokens_per_day"
	Max        int64
	Used       int64
	RetryAfter time.Duration // > 0
}

// Usage is a route's current use of its budget.
type Usage struct {
	RequestsThisMinute int64 `json:"requests_this_minute"`
	TokensToday        int64 `json:"tokens_today"`
}

// Guard holds one counter per route id. The zero value is not ready: use
// New. Its methods are safe for concurrent use; each holds only its
// route's lock, and only for a counter update.
type Guard struct {
	now    func() time.Time
	routes sync.Map // int64 -> *counter
}

// New returns a Guard reading the time from now (time.Now when nil).
func New(now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{now: now}
}

type counter struct {
	mu       sync.Mutex // guards the fields below
	winStart time.Time  // zero: no window open
	requests int64      // admitted in the window
	day      time.Time  // local midnight the tokens count from
	tokens   int64
}

func (g *Guard) counter(id int64) *counter {
	if c, ok := g.routes.Load(id); ok {
		return c.(*counter)
	}
	c, _ := g.routes.LoadOrStore(id, &counter{})
	return c.(*counter)
}

// Admit counts a request for route id against lim, or refuses it with an
// *Exceeded (the request is then not counted).
func (g *Guard) Admit(id int64, lim Limits) *Exceeded {
	now := g.now()
	c := g.counter(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	if lim.TokensPerDay != nil && c.tokens >= *lim.TokensPerDay {
		return &Exceeded{Limit: "max_tokens_per_day", Max: *lim.TokensPerDay, Used: c.tokens,
			RetryAfter: c.day.AddDate(0, 0, 1).Sub(now)}
	}
	if lim.RequestsPerMinute != nil && c.requests >= *lim.RequestsPerMinute {
		return &Exceeded{Limit: "max_requests_per_minute", Max: *lim.RequestsPerMinute, Used: c.requests,
			RetryAfter: c.winStart.Add(Window).Sub(now)}
	}
	if c.winStart.IsZero() {
		c.winStart = now
	}
	c.requests++
	return nil
}

// AddTokens adds a finished request's tokens to route id's day.
func (g *Guard) AddTokens(id, tokens int64) {
	if tokens <= 0 {
		return
	}
	now := g.now()
	c := g.counter(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	c.tokens = min(c.tokens+tokens, math.MaxInt64/2)
}

// Usage returns route id's current use.
func (g *Guard) Usage(id int64) Usage {
	now := g.now()
	c := g.counter(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	return Usage{RequestsThisMinute: c.requests, TokensToday: c.tokens}
}

// Forget drops route id's counters (the route was deleted).
func (g *Guard) Forget(id int64) { g.routes.Delete(id) }

// roll closes a window that has ended and starts a new day at midnight.
func (c *counter) roll(now time.Time) {
	if !c.winStart.IsZero() && now.Sub(c.winStart) >= Window {
		c.winStart, c.requests = time.Time{}, 0
	}
	if day := DayStart(now); !day.Equal(c.day) {
		c.day, c.tokens = day, 0
	}
}

// DayStart is the local midnight that starts t's day.
func DayStart(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least 1, as
// Retry-After carries it.
func RetryAfterSeconds(d time.Duration) int64 {
	return max(int64(math.Ceil(d.Seconds())), 1)
}
