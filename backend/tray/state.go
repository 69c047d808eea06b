package tray

import (
	"strings"
	"time"
)

// State is what the icon shows.
type State int

const (
	Idle     State = iota // nothing served lately and no local model loaded
	Local                 // serving from (or ready with) a local model
	Cloud                 // the last request went to a cloud provider
	Failover              // a request failed over in the last minute
	Error                 // a 5xx in the last minute, or a provider or model in cooldown
)

func (s State) String() string {
	return [...]string{"idle", "local", "cloud", "failover", "error"}[s]
}

// Recent is how long a failover or an error keeps showing, and how long
// after the last request the icon still says where it went.
const Recent = 60 * time.Second

// Tracker turns the request log into the icon state. Feed it every
// request once, in any order, with Observe. The zero value is ready; it is
// not safe for concurrent use.
type Tracker struct {
	After        int64     // the newest request id observed
	lastFailover time.Time // newest request that failed over
	lastError    time.Time // newest request answered with a 5xx
	last         time.Time // newest request a backend answered
	lastBackend  string    // ... and that backend
}

// Observe records requests.
func (t *Tracker) Observe(reqs []Request) {
	for _, r := range reqs {
		t.After = max(t.After, r.ID)
		end := r.End() // what happened is recent from when it ended
		if len(r.FallbackFrom) > 0 && end.After(t.lastFailover) {
			t.lastFailover = end
		}
		if r.Status >= 500 && end.After(t.lastError) {
			t.lastError = end
		}
		if r.Backend != "" && r.Backend != "none" && end.After(t.last) {
			t.last, t.lastBackend = end, r.Backend
		}
	}
}

// State is the icon state at now: errors first, then failovers, then where
// the last recent request went, then whether a local model is loaded.
func (t *Tracker) State(now time.Time, s Snapshot) State {
	recent := func(at time.Time) bool { return !at.IsZero() && now.Sub(at) < Recent }
	switch {
	case len(s.Cooldowns) > 0 || recent(t.lastError):
		return Error
	case recent(t.lastFailover):
		return Failover
	case recent(t.last) && t.lastBackend != "local":
		return Cloud
	case recent(t.last):
		return Local
	}
	for _, m := range s.Models {
		if m.Loaded {
			return Local
		}
	}
	return Idle
}

// Describe says in words what the state means, for the tooltip and the
// menu's status line.
func Describe(st State, s Snapshot, t *Tracker) string {
	switch st {
	case Error:
		if len(s.Cooldowns) > 0 {
			names := make([]string, len(s.Cooldowns))
			for i, c := range s.Cooldowns {
				names[i] = c.Name()
			}
			return "Cooling down: " + strings.Join(names, ", ")
		}
		return "Errors in the last minute"
	case Failover:
		return "Failed over in the last minute"
	case Cloud:
		return "Serving from the cloud (" + t.lastBackend + ")"
	case Local:
		if s.Engine != "" {
			return "Serving locally (" + s.Engine + ")"
		}
		return "Serving locally"
	}
	return "Idle"
}
