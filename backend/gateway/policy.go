package gateway

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/modelbar/modelbar/backend/config"
)

// policy is the failover policy in force, made from the settings (see
// config.Settings for what each knob means and its default).
type policy struct {
	maxRetries       int           // retries of one backend before the next
	backoff          time.Duration // the first retry's wait
	backoffMax       time.Duration // no wait is longer; a longer Retry-After moves on
	requestTimeout   time.Duration // a request's time until its answer starts
	connectTimeout   time.Duration // one attempt's dial
	firstByte        time.Duration // one attempt's wait for its answer; 0: by kind
	streamIdle       time.Duration // silence that ends a stream; 0: never
	cooldownFailures int           // consecutive failures that open a cooldown; 0: never
	cooldown         time.Duration
}

// watchPolicy loads the policy from the settings and follows their changes.
func (s *Server) watchPolicy() {
	st, err := s.cfg.Settings(context.Background())
	if err != nil {
		s.log.Warn("cannot read the settings; the default failover policy applies", "err", err)
	}
	p := newPolicy(st)
	s.pol.Store(&p)
	s.cfg.OnSettings(func(st config.Settings) {
		p := newPolicy(st)
		s.pol.Store(&p)
	})
}

// policy is the failover policy in force.
func (s *Server) policy() policy { return *s.pol.Load() }

// newPolicy applies the defaults to s.
func newPolicy(s config.Settings) policy {
	orDefault := func(v, def int64, unit time.Duration) time.Duration {
		if v <= 0 {
			return time.Duration(def) * unit
		}
		return time.Duration(v) * unit
	}
	p := policy{
		maxRetries:       2,
		backoff:          orDefault(s.RetryBackoffMS, 250, time.Millisecond),
		backoffMax:       orDefault(s.RetryBackoffMaxMS, 4000, time.Millisecond),
		requestTimeout:   orDefault(s.RequestTimeoutSeconds, 600, time.Second),
		connectTimeout:   orDefault(s.ConnectTimeoutSeconds, 10, time.Second),
		streamIdle:       orDefault(s.StreamIdleTimeoutSeconds, 120, time.Second),
		cooldownFailures: 3,
		cooldown:         orDefault(s.CooldownSeconds, 30, time.Second),
	}
	if s.FirstByteTimeoutSeconds > 0 {
		p.firstByte = time.Duration(s.FirstByteTimeoutSeconds) * time.Second
	}
	switch {
	case s.MaxRetries < 0:
		p.maxRetries = 0
	case s.MaxRetries > 0:
		p.maxRetries = int(s.MaxRetries)
	}
	if s.StreamIdleTimeoutSeconds < 0 {
		p.streamIdle = 0
	}
	switch {
	case s.CooldownFailures < 0:
		p.cooldownFailures = 0
	case s.CooldownFailures > 0:
		p.cooldownFailures = int(s.CooldownFailures)
	}
	p.backoffMax = max(p.backoffMax, p.backoff)
	return p
}

// wait is how long to wait before retry number n (1-based) of a backend
// that asked for retryAfter (0 if it did not): the exponential backoff
// with jitter (a random point in its upper half), or retryAfter when the
// backend named one. ok is false when the wait would exceed backoffMax:
// then the next backend is tried instead.
func (p policy) wait(n int, retryAfter time.Duration) (d time.Duration, ok bool) {
	if retryAfter > 0 {
		return retryAfter, retryAfter <= p.backoffMax
	}
	d = p.backoff << min(n-1, 20)
	if d > p.backoffMax || d <= 0 {
		d = p.backoffMax
	}
	return d/2 + rand.N(d/2+1), true
}
