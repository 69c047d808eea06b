package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/anthropic"
	"github.com/modelbar/modelbar/backend/protocol/openai"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// endpoint is one inference endpoint as the dispatcher sees it.
type endpoint struct {
	path     string
	protocol protocol.Protocol // the client's API
	chat     bool              // a chat endpoint, translatable to the other API
}

var (
	chatCompletions = endpoint{string(openai.ChatCompletions), protocol.OpenAI, true}
	completions     = endpoint{string(openai.Completions), protocol.OpenAI, false}
	embeddings      = endpoint{string(openai.Embeddings), protocol.OpenAI, false}
	messages        = endpoint{"/v1/messages", protocol.Anthropic, true}
)

// call is one validated inference request on its way to a backend.
type call struct {
	endpoint endpoint
	body     []byte // as the client sent it
	model    string
	stream   bool
	chat     *protocol.Request // decoded on first need: same-protocol traffic never needs it
}

// chatRequest decodes the body into the internal model, once.
func (c *call) chatRequest() (protocol.Request, error) {
	if c.chat == nil {
		req, err := dialects[c.endpoint.protocol].decodeRequest(c.body)
		if err != nil {
			return protocol.Request{}, err
		}
		c.chat = &req
	}
	return *c.chat, nil
}

func (s *Server) openAIInference(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		body, err := readBody(w, r, s.opts.MaxBodyBytes)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		env, err := openai.ParseEnvelope(openai.Endpoint(ep.path), body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		info.model, info.stream = env.Model, env.Stream
		s.dispatch(w, r, &call{endpoint: ep, body: body, model: env.Model, stream: env.Stream})
	})
}

// anthropicMessages serves POST /v1/messages, validating the request as
// Anthropic does. The anthropic-version and x-api-key headers are accepted
// and not required: the gateway holds the provider keys. A request that is
// valid but holds what translation cannot carry (documents, server tools)
// still goes to an Anthropic provider untouched; only a translation refuses
// it.
func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	info := infoFrom(r.Context())
	body, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c := &call{endpoint: messages, body: body}
	req, err := anthropic.DecodeMessagesRequest(body)
	var re *protocol.RequestError
	switch {
	case err == nil:
		c.chat, c.model, c.stream = &req, req.Model, req.Stream
	case errors.As(err, &re) && re.Unsupported:
		env, err := anthropic.ParseEnvelope(body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		c.model, c.stream = env.Model, env.Stream
	default:
		s.fail(w, r, err)
		return
	}
	info.model, info.stream = c.model, c.stream
	s.dispatch(w, r, c)
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if err != nil && !errors.As(err, &mbe) {
		return nil, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: "could not read the request body: " + err.Error()}
	}
	return body, err
}

// dispatch resolves the model and walks the plan: each backend is tried in
// turn (a provider that fails retryably is retried first, see tryBackend)
// until one answers; the next one is tried only when the failure came
// before anything reached the client and is of a kind another backend can
// fix (see retryable). Backends in cooldown are skipped. The whole walk is
// bounded by the request timeout; once an answer starts, it is not.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, c *call) {
	info := infoFrom(r.Context())
	plan := s.cfg.Table().Resolve(c.model)
	if plan.Route != nil {
		info.route = plan.Route.ModelPattern
	}
	if plan.Route == nil && !s.localHas(c.model) {
		w.Header().Set(headerBackend, router.Local)
		info.backend = router.Local
		s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("model %q not found: no route matches it and no local model has that name", c.model)})
		return
	}
	pol := s.policy()
	ctx, disarm, release := deadline(r.Context(), pol.requestTimeout, errRequestTimeout)
	defer release()
	rr := r.WithContext(ctx)
	var failed []string
	var report *failure // what the client hears if every backend fails
	for i, t := range plan.Targets {
		info.backend = t.Backend
		err := s.tryBackend(w, rr, c, t, failed, pol, disarm)
		if err == nil {
			return
		}
		if r.Context().Err() != nil {
			return // the client left; nobody to answer
		}
		if context.Cause(ctx) == errRequestTimeout {
			err = errRequestTimeout
		}
		report = report.worse(failure{backend: t.Backend, err: err})
		if i == len(plan.Targets)-1 || err == errRequestTimeout || !(retryable(err) || cannotTake(err)) {
			break
		}
		next := plan.Targets[i+1].Backend
		s.log.WarnContext(r.Context(), "backend failed before the first byte; failing over",
			append([]any{"model", c.model, "backend", t.Backend, "next", next}, failureAttrs(err)...)...)
		failed = append(failed, t.Backend)
		info.fallbackFrom = failed
	}
	info.backend = report.backend
	w.Header().Set(headerBackend, report.backend)
	setFallbackHeader(w, slices.DeleteFunc(slices.Clone(failed), func(b string) bool { return b == report.backend }))
	s.fail(w, r, report.err)
}

// tryBackend sends the call to one backend, retrying a provider that fails
// retryably (429, 5xx, a broken connection) after a backoff while the
// policy allows, and keeps the backend's cooldown state: a provider in
// cooldown is not called at all. It returns nil once an answer is
// committed to the client.
func (s *Server) tryBackend(w http.ResponseWriter, r *http.Request, c *call, t router.Target, failed []string, pol policy, disarm func()) error {
	provider := t.Backend != router.Local
	probe := false
	if provider {
		var ok bool
		if ok, probe = s.breakers.admit(t.Backend); !ok {
			if until, cooling := s.breakers.inCooldown(t.Backend); cooling {
				return &unavailableError{Backend: t.Backend, RetryAfter: time.Until(until), Message: fmt.Sprintf(
					"provider %q is cooling down after repeated failures; it is tried again from %s", t.Backend, until.UTC().Format(time.RFC3339))}
			}
			return &unavailableError{Backend: t.Backend, RetryAfter: time.Second, Message: fmt.Sprintf(
				"provider %q is recovering from repeated failures: one request is probing it; retry in a moment", t.Backend)}
		}
	}
	for n := 1; ; n++ {
		err := s.attempt(w, r, c, t, failed, pol, disarm)
		if !provider {
			return err
		}
		switch {
		case err == nil || answered(err):
			s.breakers.succeeded(t.Backend) // the backend works, whatever it thought of the request
			return err
		case r.Context().Err() != nil || cannotTake(err):
			if probe {
				s.breakers.abandoned(t.Backend) // no verdict on the backend
			}
			return err
		}
		var pe *providers.Error
		errors.As(err, &pe)
		retryAfter := time.Duration(0)
		if pe != nil {
			retryAfter = pe.RetryAfter
		}
		wait, waitOK := pol.wait(n, retryAfter)
		threshold := pol.cooldownFailures
		if retryAfter > pol.backoffMax && threshold > 0 {
			threshold = 1 // the provider said how long it needs: believe it at once
		}
		if s.breakers.failed(t.Backend, loggable(err, err.Error()), threshold, pol.cooldown, min(retryAfter, maxHold)) {
			s.log.WarnContext(r.Context(), "provider in cooldown", "backend", t.Backend, "for", max(pol.cooldown, min(retryAfter, maxHold)).String())
			return err
		}
		probe = false
		if n > pol.maxRetries || !retrySame(err) || !waitOK || !s.sleep(r.Context(), wait) {
			return err
		}
		s.log.InfoContext(r.Context(), "retrying provider", append([]any{"backend", t.Backend, "retry", n, "after", wait.String()}, failureAttrs(err)...)...)
	}
}

// maxHold bounds the cooldown a provider's Retry-After can ask for.
const maxHold = 10 * time.Minute

// answered reports whether err is the backend's considered answer (a 4xx
// about the request) rather than a failure of the backend.
func answered(err error) bool {
	var pe *providers.Error
	return errors.As(err, &pe) && pe.Kind == providers.KindStatus && pe.Status < 500 &&
		pe.Status != http.StatusTooManyRequests && pe.Status != http.StatusRequestTimeout
}

// retrySame reports whether the same backend is worth another try: it
// refused for now (429, 408, 5xx) or the connection broke. A timeout is
// not: the next backend is tried instead.
func retrySame(err error) bool {
	var pe *providers.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Kind {
	case providers.KindConnection:
		return true
	case providers.KindStatus:
		return pe.Status == http.StatusTooManyRequests || pe.Status == http.StatusRequestTimeout || pe.Status >= 500
	}
	return false
}

// sleep waits d unless ctx ends first; it reports whether it waited.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// failure is one backend's failure to answer.
type failure struct {
	backend string
	err     error
}

// worse picks the failure to report: the latest, except that a backend that
// could not take the request at all (it cannot translate it) never hides a
// real failure of an earlier one (a 529 the client should retry).
func (f *failure) worse(next failure) *failure {
	if f != nil && cannotTake(next.err) && !cannotTake(f.err) {
		return f
	}
	return &next
}

const (
	headerBackend      = "X-Modelbar-Backend"
	headerFallbackFrom = "X-Modelbar-Fallback-From"
	noBackend          = "none" // X-Modelbar-Backend when the gateway answered by itself
)

func setFallbackHeader(w http.ResponseWriter, failed []string) {
	if len(failed) > 0 {
		w.Header().Set(headerFallbackFrom, strings.Join(failed, ", "))
	}
}

// attempt sends the call to one backend once. It returns nil once the
// response is committed to the client (whatever happens after), and an
// error when the backend failed before anything was written.
func (s *Server) attempt(w http.ResponseWriter, r *http.Request, c *call, t router.Target, failed []string, pol policy, disarmRequest func()) error {
	client, ok := s.cfg.Clients().Get(t.Backend)
	if !ok && t.Backend != router.Local {
		return &unavailableError{Backend: t.Backend, Message: fmt.Sprintf("provider %q is not configured", t.Backend)}
	}
	limit := s.firstByteTimeout(pol, c.stream)
	ctx, disarm, release := deadline(r.Context(), limit, errFirstByteTimeout)
	defer release()
	ctx, cancel := context.WithCancelCause(providers.WithConnectTimeout(ctx, pol.connectTimeout))
	defer cancel(nil)
	a := &try{w: w, r: r.WithContext(ctx), c: c, t: t, client: client, failed: failed,
		disarm: disarm, disarmRequest: disarmRequest, cancel: cancel, idle: pol.streamIdle}
	if t.Backend != router.Local {
		a.committed = func() { s.breakers.succeeded(t.Backend) } // a probe's answer has started: the provider is back
	}
	var err error
	switch {
	case t.Backend == router.Local:
		err = s.viaLocal(a)
	case providerProtocol(client) == c.endpoint.protocol:
		err = s.passThrough(a)
	case c.endpoint.chat:
		err = s.translate(a)
	default:
		return &unavailableError{Backend: t.Backend, Status: http.StatusNotImplemented, Message: fmt.Sprintf(
			"provider %q speaks the %s API, which has no %s endpoint", t.Backend, client.Type(), c.endpoint.path)}
	}
	if err != nil && (errors.Is(context.Cause(ctx), errFirstByteTimeout) || errors.Is(context.Cause(ctx), errStreamIdle)) {
		return &providers.Error{Provider: t.Backend, Kind: providers.KindTimeout,
			Err: fmt.Errorf("no answer within %v", limit)}
	}
	return err
}

// try is one attempt of a call at one backend.
type try struct {
	w      http.ResponseWriter
	r      *http.Request // carries the attempt's context (first-byte deadline)
	c      *call
	t      router.Target
	client *providers.Client
	failed []string // backends tried before, in order
	// disarm stops the attempt's first-byte deadline: the backend has
	// started answering (a stream opened, a local model generating).
	disarm        func()
	disarmRequest func()                  // stops the request deadline, at commit
	cancel        context.CancelCauseFunc // ends the attempt (a silent stream)
	idle          time.Duration           // silence that ends a committed stream; 0: never
	watch         *idleBody               // the stream's idle watch, armed at commit
	committed     func()                  // called at commit, if set
}

// forward sends body to the provider; a streamed answer that then stays
// silent for longer than the idle timeout is cut.
func (a *try) forward(path string, body []byte) (*http.Response, error) {
	resp, err := a.client.Forward(a.r.Context(), http.MethodPost, path, upstreamHeader(a.r.Header), body)
	if err == nil && a.c.stream && a.idle > 0 {
		a.watch = watchIdle(resp.Body, a.idle, a.cancel)
		resp.Body = a.watch
	}
	return resp, err
}

// commit is the point of no return: the response now belongs to this
// backend. It disarms the deadlines and sets the headers.
func (a *try) commit(upstream http.Header) {
	a.disarm()
	a.disarmRequest()
	if a.watch != nil {
		a.watch.arm() // from now on silence ends the stream; before, the first-byte deadline rules
	}
	if a.committed != nil {
		a.committed()
	}
	if info := infoFrom(a.r.Context()); info != nil && info.firstByte.IsZero() {
		info.firstByte = time.Now()
	}
	copyResponseHeaders(a.w.Header(), upstream)
	a.w.Header().Set(headerBackend, a.t.Backend)
	setFallbackHeader(a.w, a.failed)
}

// clientGone reports whether a committed answer's context ended because
// the client left (rather than because the backend went silent).
func clientGone(ctx context.Context) bool {
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), errStreamIdle)
}

// passThrough relays a call to a provider of the client's own API byte for
// byte, with only the model name rewritten.
func (s *Server) passThrough(a *try) error {
	body, err := protocol.SetTopLevelString(a.c.body, "model", a.t.Model)
	if err != nil {
		return &protocol.RequestError{Message: err.Error()}
	}
	resp, err := a.forward(a.c.endpoint.path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	commit := func() { a.commit(resp.Header) }
	switch {
	case a.c.stream && isEventStream(resp.Header):
		return s.relayStream(a.w, a.r, a.c.endpoint.protocol, resp, commit, a.t.Backend)
	case a.c.stream && a.c.endpoint.chat:
		// Asked to stream, the backend answered in one piece: SDK stream
		// helpers fail on a JSON body, so it is sent as a stream.
		if req, err := a.c.chatRequest(); err == nil {
			d := dialects[a.c.endpoint.protocol]
			x := &translation{s: s, w: a.w, r: a.r, req: req, up: d, down: d, backend: a.t.Backend, commit: commit, disarm: a.disarm}
			return x.body(resp.Body)
		}
	}
	return relayBody(a.w, a.r, resp, commit, a.t.Backend)
}

// upstreamHeader is the client's header as a provider should see it. The
// gateway has parsed the body as JSON, so the provider is told it is JSON
// whatever the client sent: `curl -d` sends a form content type, and OpenAI
// cannot read a body so labelled.
func upstreamHeader(in http.Header) http.Header {
	h := in.Clone()
	h.Set("Content-Type", "application/json")
	return h
}

// errLocalUnavailable: this server runs without a local engine. It is a
// before-first-byte failure, so a route's fallbacks still answer.
var errLocalUnavailable = &unavailableError{Backend: router.Local, Message: "local engine not available: route this model to a provider, or add a fallback"}

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/event-stream")
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
