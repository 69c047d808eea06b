package failover

import (
	"context"
	"errors"
	"time"

	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/providers"
)

// Action is what the walk down a chain does after a backend failed.
type Action int

const (
	// Stop: answer the client with this failure. The backend answered
	// the request itself (a 4xx about it), the client left, or time is
	// up: no other backend would do better.
	Stop Action = iota
	// NextBackend: try the next backend of the chain now.
	NextBackend
	// RetrySame: the backend refused for now or its connection broke:
	// retry it after a backoff while the policy allows, then move on.
	RetrySame
)

func (a Action) String() string {
	switch a {
	case NextBackend:
		return "next backend"
	case RetrySame:
		return "retry same"
	}
	return "stop"
}

// Scope is where a failure shows a fault, and so what it cools down.
type Scope int

const (
	// ScopeNone: no fault of the backend's (the client's mistake, the
	// client leaving, a request this backend cannot take at all).
	ScopeNone Scope = iota
	// ScopeModel: the provider answered, but this model failed (429, 5xx,
	// no answer in time, a malformed answer): the pair (provider, upstream
	// model) cools down; the provider's other models are unaffected.
	ScopeModel
	// ScopeProvider: the provider could not be reached (refused, reset
	// before headers, DNS, TLS, connect timeout) or cannot be used as
	// configured: every model of it cools down.
	ScopeProvider
)

func (s Scope) String() string {
	switch s {
	case ScopeModel:
		return "model"
	case ScopeProvider:
		return "provider"
	}
	return "none"
}

// Verdict is what a failure means for the walk and for the breakers.
type Verdict struct {
	Action Action
	Scope  Scope
}

// Classify judges a backend's failure before anything reached the client.
// It is the one place that decides which failures are retried, which move
// on and which cool what down; see the table in classify_test.go.
func Classify(err error) Verdict {
	var (
		bad   *BadAnswer
		un    *UnavailableError
		cant  *CannotTakeError
		pe    *providers.Error
		reqEr *protocol.RequestError
	)
	switch {
	case err == nil, errors.Is(err, ErrRequestTimeout), errors.As(err, &reqEr):
		return Verdict{Stop, ScopeNone}
	case errors.As(err, &cant), errors.As(err, &un):
		return Verdict{NextBackend, ScopeNone}
	case errors.As(err, &bad):
		return Verdict{RetrySame, ScopeModel}
	case errors.As(err, &pe):
		return classifyProvider(pe)
	}
	return Verdict{Stop, ScopeNone} // context.Canceled and anything unknown
}

// The HTTP statuses that say "not now" rather than "not this request".
// (This package keeps out of net/http: it judges failures, it serves none.)
const (
	statusRequestTimeout  = 408
	statusTooManyRequests = 429
)

func classifyProvider(pe *providers.Error) Verdict {
	switch pe.Kind {
	case providers.KindConnection:
		return Verdict{RetrySame, ScopeProvider} // Forward fails this way only before a response
	case providers.KindTimeout:
		if errors.Is(pe, ErrFirstByteTimeout) {
			return Verdict{NextBackend, ScopeModel} // connected, but this model did not answer in time
		}
		return Verdict{NextBackend, ScopeProvider} // the dial or TLS handshake timed out
	case providers.KindConfig:
		return Verdict{NextBackend, ScopeProvider}
	case providers.KindStatus:
		if pe.ContextOverflow() {
			return Verdict{NextBackend, ScopeNone} // a backend with a larger window may take it
		}
		if pe.Status == statusTooManyRequests || pe.Status == statusRequestTimeout || pe.Status >= 500 {
			return Verdict{RetrySame, ScopeModel}
		}
	}
	return Verdict{Stop, ScopeNone} // a considered answer about the request, or cancelled
}

// Answered reports whether err is the backend's considered answer (a 4xx
// about the request): the backend works, whatever it thought of the
// request, so its breakers close.
func Answered(err error) bool {
	var pe *providers.Error
	return errors.As(err, &pe) && pe.Kind == providers.KindStatus && Classify(err).Action == Stop
}

// RetryAfter is the wait a failed provider asked for (Retry-After), or 0.
func RetryAfter(err error) time.Duration {
	var pe *providers.Error
	if errors.As(err, &pe) {
		return pe.RetryAfter
	}
	return 0
}

// Sentinels the gateway's deadlines cancel an attempt's context with.
var (
	ErrFirstByteTimeout = errors.New("backend did not start answering in time")
	ErrRequestTimeout   = errors.New("request timed out before any backend answered")
	ErrStreamIdle       = errors.New("backend sent nothing for too long")
)

// ClientGone reports whether a committed answer's context ended because the
// client left (rather than because the backend went silent).
func ClientGone(ctx context.Context) bool {
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), ErrStreamIdle)
}

// BadAnswer marks a failure after the provider's response headers arrived:
// it answered, but not usably (a body that is not JSON, a stream that
// broke off before its first event, an in-band error before any
// content). That is the model's fault, not the connection's; the wrapped
// error says what the client hears.
type BadAnswer struct{ Err error }

func (e *BadAnswer) Error() string { return e.Err.Error() }
func (e *BadAnswer) Unwrap() error { return e.Err }

// UnavailableError: a backend cannot serve this request at all (local
// engine absent, provider gone, in cooldown, an API it cannot take). The
// chain moves on; no breaker is touched.
type UnavailableError struct {
	Backend    string
	Status     int // the HTTP status the client hears; 0: 503
	Message    string
	RetryAfter time.Duration // told to the client as Retry-After when set (a backend in cooldown)
}

func (e *UnavailableError) Error() string { return e.Message }

// CannotTakeError: a backend of the other API cannot take this request (it
// holds what translation cannot carry). The next backend may; the client
// hears it only if no other failure is worth telling.
type CannotTakeError struct{ Err error }

func (e *CannotTakeError) Error() string { return e.Err.Error() }
func (e *CannotTakeError) Unwrap() error { return e.Err }

// CannotTake reports whether err says the backend cannot take the request
// at all, as opposed to having failed at it.
func CannotTake(err error) bool {
	var c *CannotTakeError
	return errors.As(err, &c)
}

// Failure is one backend's failure to answer.
type Failure struct {
	Backend string
	Err     error
}

// Worse picks the failure to tell the client when every backend failed:
// the latest, except that a backend that could not take the request at
// all never hides a real failure of an earlier one (a 529 the client
// should retry). prev may be nil.
func Worse(prev *Failure, next Failure) *Failure {
	if prev != nil && CannotTake(next.Err) && !CannotTake(prev.Err) {
		return prev
	}
	return &next
}
