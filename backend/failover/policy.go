package failover

import (
	"math/rand/v2"
	"time"
)

// Policy is the failover policy in force. The gateway makes it from the
// settings; the zero value never retries and never cools down.
type Policy struct {
	MaxRetries       int           // retries of one backend before the next
	Backoff          time.Duration // the first retry's wait
	BackoffMax       time.Duration // no wait is longer; a longer Retry-After moves on
	RequestTimeout   time.Duration // a request's time until its answer is committed
	ConnectTimeout   time.Duration // one attempt's dial
	FirstByte        time.Duration // one attempt's wait for its answer to start; 0: by kind
	StreamIdle       time.Duration // silence that ends a committed stream; 0: never
	CooldownFailures int           // failed requests in a row that open a cooldown; 0: never
	Cooldown         time.Duration // how long a cooldown lasts
}

// How long a backend may take to start answering when FirstByte is 0. A
// stream must produce its first event within FirstEventTimeout; a whole
// answer, which arrives in one piece, gets FirstBodyTimeout (a long
// reasoning answer takes minutes).
const (
	FirstEventTimeout = 2 * time.Minute
	FirstBodyTimeout  = 10 * time.Minute
)

// MaxHold bounds the cooldown a provider's Retry-After can ask for.
const MaxHold = 10 * time.Minute

// FirstByteTimeout is how long an attempt may wait for its answer to start.
func (p Policy) FirstByteTimeout(stream bool) time.Duration {
	switch {
	case p.FirstByte > 0:
		return p.FirstByte
	case stream:
		return FirstEventTimeout
	}
	return FirstBodyTimeout
}

// Wait is how long to wait before retry number n (1-based) of a backend
// that asked for retryAfter (0 if it did not): the exponential backoff
// with jitter (a random point in its upper half), or retryAfter when the
// backend named one. ok is false when the wait would exceed BackoffMax:
// then the next backend is tried instead.
func (p Policy) Wait(n int, retryAfter time.Duration) (d time.Duration, ok bool) {
	if retryAfter > 0 {
		return retryAfter, retryAfter <= p.BackoffMax
	}
	d = p.Backoff << min(max(n-1, 0), 20)
	if d > p.BackoffMax || d <= 0 {
		d = p.BackoffMax
	}
	if d <= 0 {
		return 0, true
	}
	return d/2 + rand.N(d/2+1), true
}

// CooldownFor is how long a cooldown lasts when the backend asked for
// retryAfter: the policy's cooldown, or longer if the backend said so
// (bounded by MaxHold).
func (p Policy) CooldownFor(retryAfter time.Duration) time.Duration {
	return max(p.Cooldown, min(retryAfter, MaxHold))
}

// Threshold is how many failed requests in a row open a cooldown, given
// the backend's Retry-After: a backend that asks for longer than the
// backoff cap is believed at once.
func (p Policy) Threshold(retryAfter time.Duration) int {
	if retryAfter > p.BackoffMax && p.CooldownFailures > 0 {
		return 1
	}
	return p.CooldownFailures
}
