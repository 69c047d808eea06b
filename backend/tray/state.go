package tray

import (
	"fmt"
	"strings"
	"time"
)

// State is what the icon shows.
type State int

const (
	Idle     State = iota // nothing served in the last minute
	Local                 // the local engine is serving, or served the last recent request
	Cloud                 // a cloud provider is serving, or served the last recent request
	Failover              // a request failed over in the last minute
	Error                 // a 5xx in the last minute, or a provider or model in cooldown
)

func (s State) String() string {
	return [...]string{"idle", "local", "cloud", "failover", "error"}[s]
}

// Recent is how long a failover or an error keeps showing, how long after
// the last request the icon still says where it went, and the window of
// the requests-per-minute count.
const Recent = 60 * time.Second

// Tracker turns the request log into the icon state and the activity
// line. Feed it every request once, in any order, with Observe. The zero
// value is ready; it is not safe for concurrent use.
type Tracker struct {
	After        int64       // the newest request id observed
	lastFailover time.Time   // newest request that failed over
	lastError    time.Time   // newest request answered with a 5xx
	ends         []time.Time // when the requests of about the last minute ended (trimmed by State)
	last         Request     // the newest request to end
}

// Observe records requests; ones at or below After (seen in an earlier
// call) are skipped.
func (t *Tracker) Observe(reqs []Request) {
	seen := t.After
	for _, r := range reqs {
		if r.ID <= seen {
			continue
		}
		t.After = max(t.After, r.ID)
		end := r.End() // what happened is recent from when it ended
		t.ends = append(t.ends, end)
		if len(r.FallbackFrom) > 0 && end.After(t.lastFailover) {
			t.lastFailover = end
		}
		if r.Status >= 500 && end.After(t.lastError) {
			t.lastError = end
		}
		if t.last.ID == 0 || end.After(t.last.End()) {
			t.last = r
		}
	}
}

// forget drops the request end times older than a minute before now.
func (t *Tracker) forget(now time.Time) {
	kept := t.ends[:0]
	for _, e := range t.ends {
		if now.Sub(e) < Recent {
			kept = append(kept, e)
		}
	}
	t.ends = kept
}

// served reports whether the last request was answered by a backend, and
// which: "" when modelbar answered it itself (no route, a bad request).
func (t *Tracker) served() string {
	if b := t.last.Backend; b != "none" {
		return b
	}
	return ""
}

// State is the icon state at now: errors first, then failovers, then a
// backend serving now (the local engine first), then where the last recent
// request went.
func (t *Tracker) State(now time.Time, s Snapshot) State {
	t.forget(now)
	recent := func(at time.Time) bool { return !at.IsZero() && now.Sub(at) < Recent }
	switch {
	case len(s.Cooldowns) > 0 || recent(t.lastError):
		return Error
	case recent(t.lastFailover):
		return Failover
	case s.InFlight["local"] > 0:
		return Local
	case len(s.InFlight) > 0:
		return Cloud
	case t.served() == "" || !recent(t.last.End()):
		return Idle
	case t.served() == "local":
		return Local
	}
	return Cloud
}

// Next is when the state or the activity line changes with time alone (a
// request leaves the last minute, a failover or an error stops being
// recent, a cooldown ends), after now; zero when nothing is due.
func (t *Tracker) Next(now time.Time, s Snapshot) time.Time {
	var next time.Time
	consider := func(at time.Time) {
		if at.After(now) && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	for _, e := range t.ends {
		consider(e.Add(Recent))
	}
	for _, at := range []time.Time{t.lastFailover, t.lastError, t.last.End()} {
		if !at.IsZero() {
			consider(at.Add(Recent))
		}
	}
	for _, c := range s.Cooldowns {
		consider(c.Until)
	}
	return next
}

// Activity is the menu's plain state line: how many requests ended in the
// last minute and where the last one went, e.g. "3 requests/min · last:
// gpt-4o via openai". Call State (which forgets old requests) first.
func (t *Tracker) Activity(now time.Time) string {
	if t.last.ID == 0 {
		return "No requests yet"
	}
	rate := "No requests in the last minute"
	if n := len(t.ends); n > 0 {
		rate = fmt.Sprintf("%d request%s/min", n, plural(n))
	}
	last := lastRequest(t.last)
	if now.Sub(t.last.End()) >= Recent {
		last += " at " + t.last.End().Local().Format("15:04")
	}
	return rate + " · last: " + last
}

// lastRequest says what became of a request: "gpt-4o via openai",
// "gpt-4o via groq after openai failed", "gpt-4o via openai: HTTP 502",
// "gpt-5: HTTP 404" (modelbar answered it itself).
func lastRequest(r Request) string {
	s := r.Model
	if s == "" {
		s = "a request"
	}
	if r.Backend != "" && r.Backend != "none" {
		s += " via " + r.Backend
	}
	if len(r.FallbackFrom) > 0 {
		s += " after " + strings.Join(r.FallbackFrom, ", ") + " failed"
	}
	switch {
	case r.Status == 499:
		s += " (cancelled)"
	case r.Status >= 400:
		s += fmt.Sprintf(": HTTP %d", r.Status)
	}
	return s
}

// Serving is the menu's line while the local engine serves requests
// ("Serving locally (cpu) · 2 requests"); "" when it serves none.
func Serving(s Snapshot) string {
	n := s.InFlight["local"]
	if n == 0 {
		return ""
	}
	line := "Serving locally"
	if s.Engine != "" {
		line += " (" + s.Engine + ")"
	}
	if n > 1 {
		line += fmt.Sprintf(" · %d requests", n)
	}
	return line
}

// Describe says in a few words what the icon state means, for the tooltip:
// the cooldowns, a recent error or failover, the local engine serving, or
// else the activity line. Call State first.
func Describe(st State, s Snapshot, t *Tracker, now time.Time) string {
	switch {
	case len(s.Cooldowns) > 0:
		names := make([]string, len(s.Cooldowns))
		for i, c := range s.Cooldowns {
			names[i] = c.Name() + " (" + c.Plain() + ")"
		}
		return "Cooling down: " + strings.Join(names, ", ")
	case st == Error:
		return "Errors in the last minute"
	case st == Failover:
		return "Failed over in the last minute"
	case Serving(s) != "":
		return Serving(s)
	}
	return t.Activity(now)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
