package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/providers"
)

// providerHealth is a provider's latest health check, as GET
// /api/providers shows it ("health"; null when the provider has none or
// it has not run yet).
type providerHealth struct {
	OK        bool      `json:"ok"`
	CheckedAt time.Time `json:"checked_at"`
	LatencyMS int64     `json:"latency_ms"`
	Error     *string   `json:"error"` // why it failed, in modelbar's words (never a header value); null when it passed
}

// maxHealthTimeout bounds one check: a provider that has not answered by
// then is not healthy, whatever its interval.
const maxHealthTimeout = 10 * time.Second

// healthChecks runs the health check of every provider that has one
// (providers.Client.HealthCheck), each on its own interval, and feeds the
// breakers: a failed check opens the provider's breaker (scope provider,
// the policy's cooldown; counted only, when the policy never cools down),
// and the first good check after a failed one closes it. A provider whose
// client changes (a new interval, address, key or headers) has its check
// restarted and its status forgotten.
//
// One goroutine (run) owns the set of checks; each check is a goroutine of
// its own. Safe for concurrent use; close stops them all and waits.
type healthChecks struct {
	clients  *providers.Registry
	breakers *failover.Breakers
	policy   func() failover.Policy
	changed  func() // a provider's health changed (ok flipped, or first known); must not block
	log      *slog.Logger

	mu     sync.Mutex // guards status
	status map[string]healthState

	wake   chan struct{} // capacity 1: look at the providers again
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned, every check stopped
	once   sync.Once
}

// healthState is one provider's status and the client it describes.
type healthState struct {
	client *providers.Client
	health providerHealth
}

// checkLoop is one running check.
type checkLoop struct {
	client *providers.Client
	cancel context.CancelFunc
	done   chan struct{}
}

func newHealthChecks(clients *providers.Registry, breakers *failover.Breakers, policy func() failover.Policy, changed func(), log *slog.Logger) *healthChecks {
	ctx, cancel := context.WithCancel(context.Background())
	h := &healthChecks{clients: clients, breakers: breakers, policy: policy, changed: changed, log: log,
		status: map[string]healthState{}, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go h.run(ctx)
	h.refresh()
	return h
}

// refresh makes the checks follow the providers' configuration soon. It
// never blocks.
func (h *healthChecks) refresh() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// close stops every check and waits for them.
func (h *healthChecks) close() {
	h.once.Do(func() {
		h.cancel()
		<-h.done
	})
}

// get returns the provider's latest check, nil when it has none.
func (h *healthChecks) get(name string) *providerHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.status[name]
	if !ok {
		return nil
	}
	out := st.health
	return &out
}

func (h *healthChecks) run(ctx context.Context) {
	defer close(h.done)
	loops := map[string]*checkLoop{}
	defer func() {
		for _, l := range loops {
			l.cancel()
			<-l.done
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
			h.reconcile(ctx, loops)
		}
	}
}

// reconcile starts the checks of new providers, restarts those whose
// client changed and stops those of providers gone or unchecked.
func (h *healthChecks) reconcile(ctx context.Context, loops map[string]*checkLoop) {
	want := map[string]*providers.Client{}
	for _, c := range h.clients.Clients() {
		if c.HealthCheck() > 0 {
			want[c.Name()] = c
		}
	}
	for name, l := range loops {
		if want[name] != l.client {
			l.cancel()
			<-l.done
			delete(loops, name)
			h.forget(name)
		}
	}
	for name, c := range want {
		if loops[name] != nil {
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		l := &checkLoop{client: c, cancel: cancel, done: make(chan struct{})}
		loops[name] = l
		go func() {
			defer close(l.done)
			h.loop(lctx, c)
		}()
	}
}

// forget drops a provider's status; a check it left open (a failure) is
// left to the breakers' own cooldown.
func (h *healthChecks) forget(name string) {
	h.mu.Lock()
	_, had := h.status[name]
	delete(h.status, name)
	h.mu.Unlock()
	if had {
		h.changed()
	}
}

// loop checks one provider at once and then every interval, until ctx ends.
func (h *healthChecks) loop(ctx context.Context, c *providers.Client) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.check(ctx, c)
		t.Reset(c.HealthCheck())
	}
}

// check runs one health check and records it.
func (h *healthChecks) check(ctx context.Context, c *providers.Client) {
	cctx, cancel := context.WithTimeout(ctx, min(c.HealthCheck(), maxHealthTimeout))
	took, err := c.CheckHealth(providers.WithConnectTimeout(cctx, min(c.HealthCheck(), maxHealthTimeout)))
	cancel()
	if ctx.Err() != nil {
		return // stopped: the check says nothing about the provider
	}
	hl := providerHealth{OK: err == nil, CheckedAt: time.Now().UTC().Truncate(time.Millisecond), LatencyMS: took.Milliseconds()}
	if err != nil {
		why := healthError(err)
		hl.Error = &why
	}
	h.mu.Lock()
	prev, had := h.status[c.Name()]
	if had && prev.client != c {
		had = false
	}
	h.status[c.Name()] = healthState{client: c, health: hl}
	h.mu.Unlock()
	h.feed(c.Name(), hl, had && !prev.health.OK)
	if !had || prev.health.OK != hl.OK {
		if err != nil {
			h.log.Info("provider health check failed", "provider", c.Name(), "err", loggable(err, "health check failed"))
		} else if had {
			h.log.Info("provider health check passes again", "provider", c.Name())
		}
		h.changed()
	}
}

// feed tells the breakers: a failure opens the provider's (counted only
// when the policy never cools down); a success after a failure closes it.
func (h *healthChecks) feed(name string, hl providerHealth, failedBefore bool) {
	t := failover.Ticket{Provider: name}
	if !hl.OK {
		p := h.policy()
		threshold := 0
		if p.CooldownFailures > 0 {
			threshold = 1
		}
		h.breakers.Failed(t, failover.ScopeProvider, "health check: "+*hl.Error, threshold, p.CooldownFor(0))
		return
	}
	if failedBefore {
		h.breakers.Succeeded(t)
	}
}

// healthError is a failed check in a line: the provider error's summary
// (its status or transport failure, never its body, which may echo what
// was sent).
func healthError(err error) string {
	var pe *providers.Error
	if errors.As(err, &pe) {
		if pe.Kind == providers.KindStatus && pe.Message != "" {
			return pe.Summary() + ": " + truncate(pe.Message, 200)
		}
		return pe.Summary()
	}
	return err.Error()
}
