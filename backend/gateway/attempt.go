package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// walk is one call's way down its plan: each backend is tried in turn (a
// provider that fails retryably is retried first) until one commits an
// answer. It owns the request deadline, which bounds the whole walk until
// an answer is committed.
type walk struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request // carries the request deadline
	c       *call
	pol     failover.Policy
	request *failover.Deadline
	failed  []string // backends that failed, in order
	group   groupOrder
	member  int        // the group member being tried; -1 for a fallback
	fit     contextFit // the call against context windows (contextwindow.go)
}

// dispatch resolves the model and walks the plan: the route's group in
// the order its policy and the request's conversation give (orderGroup),
// then the fallbacks. The next backend is tried only when the failure
// came before anything reached the client and failover.Classify says
// another backend may do better. A backend in cooldown is skipped unless
// it is the chain's last candidate, which is always tried. The member
// that answers keeps the conversation.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, c *call) {
	info := infoFrom(r.Context())
	plan, err := s.cfg.Table().ResolveContext(r.Context(), c.model)
	if err != nil {
		return // the client left while the routes were matched
	}
	if plan.Route != nil {
		info.route, info.routeID = plan.Route.ModelPattern, plan.Route.ID
		if err := s.admitBudget(plan.Route); err != nil {
			s.fail(w, r, err)
			return // a cap, not a failure: no failover
		}
	}
	if plan.Route == nil && !s.localHas(c.model) {
		w.Header().Set(headerBackend, router.Local)
		info.backend = router.Local
		s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("model %s not found: no route matches it and no local model has that name", quoteName(c.model))})
		return
	}
	pol := s.policy()
	ctx, request := failover.NewDeadline(r.Context(), pol.RequestTimeout, failover.ErrRequestTimeout)
	defer request.Release()
	wk := &walk{s: s, w: w, r: r.WithContext(ctx), c: c, pol: pol, request: request, group: s.orderGroup(&plan, c)}
	var report *failover.Failure // what the client hears if every backend fails
	reportStep := -1             // the step report is of
	var failedSteps []int        // the step of each wk.failed entry
	for i, t := range plan.Targets {
		last := i == len(plan.Targets)-1
		info.backend = t.Backend
		wk.member = wk.group.memberAt(i, plan.Group)
		err := wk.overflow(plan, i)
		if err == nil {
			if err = wk.tryBackend(t, last); err == nil {
				wk.group.answered(wk.member)
				return
			}
			err = wk.overflowed(err, last, stepName(plan, i))
		}
		if r.Context().Err() != nil {
			return // the client left; nobody to answer
		}
		if errors.Is(context.Cause(ctx), failover.ErrRequestTimeout) {
			err = failover.ErrRequestTimeout
		}
		if worse := failover.Worse(report, failover.Failure{Backend: t.Backend, Err: err}); worse != report {
			report, reportStep = worse, i
		}
		if last || failover.Classify(err).Action == failover.Stop {
			wk.announce(t, err, actionGiveUp, "", 0)
			break
		}
		wk.announce(t, err, actionFailover, plan.Targets[i+1].Backend, 0)
		s.log.WarnContext(r.Context(), "backend failed before the first byte; failing over",
			append([]any{"model", c.model, "backend", t.Backend, "next", plan.Targets[i+1].Backend}, failureAttrs(err)...)...)
		wk.failed = append(wk.failed, t.Backend)
		failedSteps = append(failedSteps, i)
		info.fallbackFrom = wk.failed
	}
	info.backend = report.Backend
	w.Header().Set(headerBackend, report.Backend)
	// Every failed step but the one the client hears of: another step of
	// the same backend (a second member or model of one provider) stays
	// named, so a failover always shows.
	var before []string
	for j, name := range wk.failed {
		if failedSteps[j] != reportStep {
			before = append(before, name)
		}
	}
	setFallbackHeader(w, before)
	s.fail(w, r, wk.tooLong(report.Err))
}

// stepName is how X-Modelbar-Skipped names plan step i: its backend, or
// "backend:model" when the plan has the backend more than once (two
// members of one provider), so that each skip names what it skipped.
// X-Modelbar-Fallback-From keeps naming backends alone, as it always has
// (X-Modelbar-Backend-Model says which model answered).
func stepName(plan router.Plan, i int) string {
	t := plan.Targets[i]
	n := 0
	for _, o := range plan.Targets {
		if o.Backend == t.Backend {
			n++
		}
	}
	if n > 1 {
		return t.Backend + ":" + t.Model
	}
	return t.Backend
}

// tryBackend sends the call to one backend, retrying a provider whose
// failure failover.Classify calls RetrySame after a backoff while the
// policy allows, and keeps the provider's breakers: one request, however
// many retries it makes, counts as one failure, against the pair
// (provider, model) or the whole provider as the last failure's scope
// says. It returns nil once an answer is committed to the client.
func (wk *walk) tryBackend(t router.Target, last bool) error {
	if t.Backend == router.Local {
		return wk.step(t, nil, 0)
	}
	b := wk.s.breakers
	ticket, cooling := b.Admit(t.Backend, t.Model, last)
	if cooling != nil {
		return wk.skip(t, cooldownError(cooling))
	}
	for n := 1; ; n++ {
		err := wk.step(t, &ticket, n-1)
		v := failover.Classify(err)
		switch {
		case err == nil:
			return nil // the breakers heard of the success at commit
		case failover.Answered(err):
			b.Succeeded(ticket) // the backend works, whatever it thought of the request
			return err
		case wk.r.Context().Err() != nil || v.Scope == failover.ScopeNone:
			b.Abandon(ticket) // no verdict on the backend
			return err
		}
		retryAfter := failover.RetryAfter(err)
		wait, waitOK := wk.pol.Wait(n, retryAfter)
		retry := v.Action == failover.RetrySame && n <= wk.pol.MaxRetries && waitOK
		if retry {
			wk.announce(t, err, actionRetry, t.Backend, wait)
		}
		if !retry || !sleep(wk.r.Context(), wait) {
			d := wk.pol.CooldownFor(retryAfter)
			if b.Failed(ticket, v.Scope, loggable(err, err.Error()), wk.pol.Threshold(retryAfter), d) {
				wk.s.log.WarnContext(wk.r.Context(), "cooling down", "backend", t.Backend, "model", truncate(t.Model, 64),
					"scope", v.Scope.String(), "for", d.String())
			}
			return err
		}
		wk.s.log.InfoContext(wk.r.Context(), "retrying provider",
			append([]any{"backend", t.Backend, "retry", n, "after", wait.String()}, failureAttrs(err)...)...)
	}
}

// cooldownError is the failure of a backend skipped while it cools down.
func cooldownError(c *failover.Cooldown) error {
	what := fmt.Sprintf("provider %q", c.Provider)
	if c.Scope == failover.ScopeModel.String() {
		what = fmt.Sprintf("model %s at provider %q", quoteName(c.Model), c.Provider)
	}
	if c.State == "cooldown" {
		return &failover.UnavailableError{Backend: c.Provider, RetryAfter: time.Until(c.Until), Message: fmt.Sprintf(
			"%s is cooling down after repeated failures; it is tried again from %s", what, c.Until.Format(time.RFC3339))}
	}
	return &failover.UnavailableError{Backend: c.Provider, RetryAfter: time.Second, Message: fmt.Sprintf(
		"%s is recovering from repeated failures: one request is probing it; retry in a moment", what)}
}

// sleep waits d unless ctx ends first; it reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// attemptState is where an attempt is in its life.
type attemptState int

const (
	// waiting: the call is on its way, no answer has begun. The attempt's
	// first-byte deadline runs, and the walk's request deadline.
	waiting attemptState = iota
	// opened: the backend has begun answering (a stream opened, the local
	// model is generating, a reasoning model sent its opening event), but
	// nothing is the client's yet. The first-byte deadline is off; the
	// request deadline still runs; a failure may still fail over.
	opened
	// committed: the response belongs to this backend and its headers are
	// written. No deadline runs; silence between stream events longer than
	// the idle timeout ends the stream. A failure now ends the client's
	// stream with its API's error event.
	committed
)

// attempt is one try of a call at one backend. It owns the attempt's
// deadlines, the idle watch of its stream and the point of no return,
// commit. One goroutine drives it: the handler's (the local engine's
// callbacks run while the handler waits in the engine).
type attempt struct {
	w      http.ResponseWriter
	r      *http.Request // carries the attempt's context
	c      *call
	t      router.Target
	client *providers.Client // nil for the local engine
	failed []string          // backends that failed before, in order

	state     attemptState
	firstByte *failover.Deadline
	request   *failover.Deadline // the walk's: stopped at commit
	cancel    context.CancelCauseFunc
	idle      time.Duration       // silence that ends a committed stream; 0: never
	watch     *failover.IdleWatch // the stream's idle watch, armed at commit
	onCommit  func()              // tells the breakers, for a provider
	limit     time.Duration       // the first-byte deadline, for the error message
	dropped   []string            // what a translation left out, named at commit
	// committedAt is when the answer began (zero until commit): a group
	// member's time to first byte.
	committedAt time.Time
}

// attempt sends the call to one backend once. It returns nil once the
// response is committed to the client (whatever happens after), and an
// error when the backend failed before anything was written.
func (wk *walk) attempt(t router.Target, ticket *failover.Ticket) error {
	s := wk.s
	client, ok := s.cfg.Clients().Get(t.Backend)
	if !ok && t.Backend != router.Local {
		return &failover.UnavailableError{Backend: t.Backend, Message: fmt.Sprintf("provider %q is not configured", t.Backend)}
	}
	limit := wk.pol.FirstByteTimeout(wk.c.stream)
	if s.opts.FirstByteTimeout > 0 {
		limit = s.opts.FirstByteTimeout
	}
	ctx, firstByte := failover.NewDeadline(wk.r.Context(), limit, failover.ErrFirstByteTimeout)
	defer firstByte.Release()
	ctx, cancel := context.WithCancelCause(providers.WithConnectTimeout(ctx, wk.pol.ConnectTimeout))
	defer cancel(nil)
	a := &attempt{w: wk.w, r: wk.r.WithContext(ctx), c: wk.c, t: t, client: client, failed: wk.failed,
		firstByte: firstByte, request: wk.request, cancel: cancel, idle: wk.pol.StreamIdle, limit: limit}
	if ticket != nil {
		// A probe's answer has started: the provider is back.
		a.onCommit = func() { s.breakers.Succeeded(*ticket) }
	}
	wk.c.relayed = false // until passThrough says otherwise
	defer s.inflight.begin(t.Backend)()
	if m := wk.member; m >= 0 {
		start := time.Now()
		wk.group.begin(m)
		defer func() { wk.group.end(m, start, a.committedAt) }()
	}
	var err error
	switch {
	case t.Backend == router.Local:
		err = s.viaLocal(a)
	case wk.c.endpoint == responsesEndpoint && providerProtocol(client) == protocol.OpenAI:
		err = s.viaOpenAIProvider(a)
	case wk.c.endpoint.chat && chatProtocol(client, t) == protocol.Responses:
		err = s.translate(a) // the reverse bridge: a chat call for a Responses-only model
	case providerProtocol(client) == wk.c.endpoint.protocol:
		err = s.passThrough(a)
	case wk.c.endpoint.chat:
		err = s.translate(a)
	default:
		return &failover.UnavailableError{Backend: t.Backend, Status: http.StatusNotImplemented, Message: fmt.Sprintf(
			"provider %q speaks the %s API, which has no %s endpoint", t.Backend, client.Type(), wk.c.endpoint.path)}
	}
	return a.failure(err, ctx)
}

// failure is how err reads once the attempt is over: a deadline of the
// attempt's that cut it off becomes a timeout of the backend's.
func (a *attempt) failure(err error, ctx context.Context) error {
	if err == nil || a.state == committed {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, failover.ErrFirstByteTimeout) || errors.Is(cause, failover.ErrStreamIdle) {
		return &providers.Error{Provider: a.t.Backend, Kind: providers.KindTimeout,
			Err: fmt.Errorf("no answer within %v: %w", a.limit, failover.ErrFirstByteTimeout)}
	}
	return err
}

// forward sends body to the provider with the header h; a streamed answer
// is watched for silence once committed.
func (a *attempt) forward(path string, h http.Header, body []byte) (*http.Response, error) {
	resp, err := a.client.Forward(a.r.Context(), http.MethodPost, path, h, body)
	if err == nil && a.c.stream && a.idle > 0 {
		a.watch = failover.WatchIdle(resp.Body, a.idle, a.cancel)
		resp.Body = a.watch
	}
	return resp, err
}

// open moves waiting to opened: the backend has begun answering, so the
// first-byte deadline stops (a long prefill or a reasoning model's
// thinking is work, not a hang).
func (a *attempt) open() {
	if a.state == waiting {
		a.state = opened
		a.firstByte.Disarm()
	}
}

// commit is the point of no return: the response now belongs to this
// backend. It stops the deadlines, arms the idle watch, tells the
// breakers and sets the headers; the caller writes the status next.
func (a *attempt) commit(upstream http.Header) {
	if a.state == committed {
		return
	}
	a.open()
	a.state = committed
	a.committedAt = time.Now()
	a.request.Disarm()
	if a.watch != nil {
		a.watch.Arm() // from now on silence ends the stream; before, the first-byte deadline ruled
	}
	if a.onCommit != nil {
		a.onCommit()
	}
	if info := infoFrom(a.r.Context()); info != nil && info.firstByte.IsZero() {
		info.firstByte = time.Now()
	}
	copyResponseHeaders(a.w.Header(), upstream)
	a.w.Header().Set(headerBackend, a.t.Backend)
	if a.t.Model != "" {
		a.w.Header().Set(headerBackendModel, a.t.Model)
	}
	setFallbackHeader(a.w, a.failed)
	if len(a.dropped) > 0 {
		a.w.Header().Set(headerDropped, strings.Join(a.dropped, ", "))
	}
}

const (
	headerBackend      = "X-Modelbar-Backend"
	headerFallbackFrom = "X-Modelbar-Fallback-From"
	// headerBackendModel is the model the answering backend was asked for
	// (a route may map the client's model name to another), so a client
	// can say "fake-small at fake answered" when a route fails over between
	// two models of one provider.
	headerBackendModel = "X-Modelbar-Backend-Model"
	// headerDropped names what a translation left out of the request
	// because the backend's API has no counterpart and the answer does not
	// depend on it (caching and context-management hints, betas, ...).
	headerDropped = "X-Modelbar-Dropped"
	noBackend     = "none" // X-Modelbar-Backend when the gateway answered by itself
)

func setFallbackHeader(w http.ResponseWriter, failed []string) {
	if len(failed) > 0 {
		w.Header().Set(headerFallbackFrom, strings.Join(failed, ", "))
	}
}

// failureAttrs describe a backend failure for the log without the
// provider's own message, which may quote the client's prompt.
func failureAttrs(err error) []any {
	var pe *providers.Error
	if !errors.As(err, &pe) {
		return []any{"err", err}
	}
	attrs := []any{"kind", pe.Kind.String()}
	if pe.Status != 0 {
		attrs = append(attrs, "status", pe.Status)
	}
	if pe.Err != nil {
		attrs = append(attrs, "err", pe.Err)
	}
	return attrs
}
