package gateway

import (
	"context"
	"time"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/failover"
)

// watchPolicy loads the failover policy from the settings and follows
// their changes.
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
func (s *Server) policy() failover.Policy { return *s.pol.Load() }

// newPolicy applies the defaults to the settings (see config.Settings for
// what each knob means).
func newPolicy(s config.Settings) failover.Policy {
	orDefault := func(v, def int64, unit time.Duration) time.Duration {
		if v <= 0 {
			return time.Duration(def) * unit
		}
		return time.Duration(v) * unit
	}
	p := failover.Policy{
		MaxRetries:       2,
		Backoff:          orDefault(s.RetryBackoffMS, 250, time.Millisecond),
		BackoffMax:       orDefault(s.RetryBackoffMaxMS, 4000, time.Millisecond),
		RequestTimeout:   orDefault(s.RequestTimeoutSeconds, 600, time.Second),
		ConnectTimeout:   orDefault(s.ConnectTimeoutSeconds, 10, time.Second),
		StreamIdle:       orDefault(s.StreamIdleTimeoutSeconds, 120, time.Second),
		CooldownFailures: 3,
		Cooldown:         orDefault(s.CooldownSeconds, 30, time.Second),
	}
	if s.FirstByteTimeoutSeconds > 0 {
		p.FirstByte = time.Duration(s.FirstByteTimeoutSeconds) * time.Second
	}
	switch {
	case s.MaxRetries < 0:
		p.MaxRetries = 0
	case s.MaxRetries > 0:
		p.MaxRetries = int(s.MaxRetries)
	}
	if s.StreamIdleTimeoutSeconds < 0 {
		p.StreamIdle = 0
	}
	switch {
	case s.CooldownFailures < 0:
		p.CooldownFailures = 0
	case s.CooldownFailures > 0:
		p.CooldownFailures = int(s.CooldownFailures)
	}
	p.BackoffMax = max(p.BackoffMax, p.Backoff)
	return p
}
