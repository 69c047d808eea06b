package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// Context-window routing: a backend whose context window is known and
// that the request does not fit — its prompt plus the output it asks for
// (max_tokens, max_completion_tokens, max_output_tokens; none: at least
// one token) — is skipped without being called, like a backend that
// cannot take the request (a CannotTakeError: no retry, no breaker), and
// the response names it; the chain's last backend only when the prompt
// alone does not fit (see overflow). Nothing is ever truncated to fit.
//
// A window comes from the local model's config, a provider's model list
// (the catalogue's last good one: never waited for), or the route's
// max_context for its provider members whose list gives none. The prompt
// is counted by the local model's tokenizer and chat template for a local
// backend, else estimated (protocol.EstimateTokens), as is: an estimate
// off by a few percent near a window may send a request the provider then
// refuses, or skip one that would have fit.

// headerSkipped names the backends a request was not sent to because it
// does not fit their context window, with the window and what the request
// needs: "local (context 8192 < 12000)", comma-separated in chain order.
// It is set before an answer commits, so a stream carries it, and it is
// on the error of a request no backend took.
const headerSkipped = "X-Modelbar-Skipped"

// windowError: a request does not fit a backend's context window. It
// unwraps to the 400 its client hears when no backend takes the request.
type windowError struct {
	Backend   string
	Step      string // how the headers name the step (stepName); "" is Backend
	Window    int    // the backend model's context window, in tokens
	Prompt    int    // the prompt's tokens
	Output    int    // the output the request asks for; 0 when it sets no limit
	Estimated bool   // Prompt is protocol.EstimateTokens's, not the model's tokenizer's
	Param     string // the request field holding the prompt
}

// need is the context the request takes: its prompt and its output, at
// least one token of it.
func (e *windowError) need() int { return e.Prompt + max(e.Output, 1) }

func (e *windowError) Error() string { return e.Unwrap().Error() }

func (e *windowError) Unwrap() error {
	return e.apiError(fmt.Sprintf("the context window of %s (%d tokens)", e.Backend, e.Window))
}

// apiError is the client's 400: what the request needs, more than what.
func (e *windowError) apiError(than string) *apiError {
	prompt := fmt.Sprintf("%d tokens", e.Prompt)
	if e.Estimated {
		prompt += " (estimated)"
	}
	out := "at least 1 token of output"
	if e.Output > 0 {
		out = fmt.Sprintf("%d tokens of requested output", e.Output)
	}
	return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "context_length_exceeded", Param: e.Param,
		Message: fmt.Sprintf("this request needs %d tokens of context (a prompt of %s plus %s), more than %s; shorten the conversation or ask for less output",
			e.need(), prompt, out, than)}
}

// skipped is how the header names the skip.
func (e *windowError) skipped() string {
	name := e.Step
	if name == "" {
		name = e.Backend
	}
	return fmt.Sprintf("%s (context %d < %d)", name, e.Window, e.need())
}

// contextFit is a call's size against context windows, measured lazily:
// the body is decoded only when a backend of the plan has a known window,
// the estimate is made once, and each local model counts once.
type contextFit struct {
	bound    int // what surelyFits found; 0: not scanned yet, -1: unknown
	output   int // the output the body asks for, at least 1, once scanned
	measured bool
	req      *protocol.Request // nil: the body does not decode; the call is not measured
	estimate int               // 0: not made yet
	counts   map[string]int    // prompt tokens by local model
	skipped  []*windowError    // in chain order
}

// overflow returns the error that skips plan.Targets[i], after naming the
// skip in X-Modelbar-Skipped and the request log, when the call does not
// fit the target's context window; nil when it fits, or the window or the
// call's size is unknown. The chain's last target is skipped only when
// the prompt itself leaves no room: when just the output asked for does
// not fit, it is tried, as a backend in cooldown is — the local engine
// ends the answer at its window (finish reason "length", never silently),
// a provider answers or refuses for itself — rather than refusing a
// request that has nowhere better to go.
func (wk *walk) overflow(plan router.Plan, i int) error {
	if !wk.c.endpoint.chat {
		return nil
	}
	t := plan.Targets[i]
	window := wk.s.contextWindow(plan, i)
	if window <= 0 {
		return nil
	}
	if !wk.fit.measured && wk.fit.surelyFits(wk.c, window, t.Backend == router.Local) {
		return nil // a request is not decoded or counted unless it may be near the window
	}
	prompt, estimated, ok := wk.promptTokens(t)
	if !ok {
		return nil
	}
	we := &windowError{Backend: t.Backend, Step: stepName(plan, i), Window: window, Prompt: prompt, Output: wk.fit.req.MaxTokens, Estimated: estimated,
		Param: promptParam(wk.c.endpoint)}
	if we.need() <= window || (i == len(plan.Targets)-1 && we.Prompt < window) {
		return nil
	}
	wk.noteSkipped(we)
	return wk.skip(t, &failover.CannotTakeError{Err: we})
}

// overflowed is err as the walk goes on with it: a backend that found the
// call too long for its window itself (the local engine counts as it
// renders) is named like a skipped one, and skipped unless it is the
// last, whose refusal the client hears.
func (wk *walk) overflowed(err error, last bool, step string) error {
	var we *windowError
	if !errors.As(err, &we) {
		return err
	}
	we.Step = step
	wk.noteSkipped(we)
	if last {
		return we
	}
	return err
}

// noteSkipped names a skip in the response's header.
func (wk *walk) noteSkipped(we *windowError) {
	wk.fit.skipped = append(wk.fit.skipped, we)
	names := make([]string, len(wk.fit.skipped))
	for i, s := range wk.fit.skipped {
		names[i] = s.skipped()
	}
	wk.w.Header().Set(headerSkipped, strings.Join(names, ", "))
}

// tooLong is the failure the client hears when the walk gave up: a
// request that fit no window hears of the largest window skipped.
func (wk *walk) tooLong(err error) error {
	var we *windowError
	if !errors.As(err, &we) || len(wk.fit.skipped) < 2 {
		return err
	}
	widest := wk.fit.skipped[0]
	for _, s := range wk.fit.skipped[1:] {
		if s.Window > widest.Window {
			widest = s
		}
	}
	return widest.apiError(fmt.Sprintf("the largest context window of its backends, %s's (%d tokens)", widest.Backend, widest.Window))
}

// promptTokens is the call's prompt for target t, in tokens: the local
// model's count (its chat template and tokenizer, read without loading
// it), else the estimate. ok is false when the call cannot be measured:
// its body does not decode into the internal model (what only a provider
// of its own API can take, or a request the backend will refuse), or
// there is no room to decode it now.
func (wk *walk) promptTokens(t router.Target) (n int, estimated, ok bool) {
	f := &wk.fit
	if !f.measured {
		f.measured = true
		if req, err := wk.c.chatRequest(); err == nil {
			f.req = &req
		}
	}
	if f.req == nil {
		return 0, false, false
	}
	if t.Backend == router.Local && wk.s.opts.Local != nil {
		if n, ok := f.counts[t.Model]; ok {
			return n, false, true
		}
		r := *f.req
		r.Model = t.Model
		n, err := wk.s.opts.Local.CountPrompt(wk.r.Context(), r)
		if err == nil {
			if f.counts == nil {
				f.counts = map[string]int{}
			}
			f.counts[t.Model] = n
			return n, false, true
		}
		wk.s.log.InfoContext(wk.r.Context(), "the local engine cannot count the prompt; estimating", "model", truncate(t.Model, 64), "err", err)
	}
	if f.estimate == 0 {
		f.estimate = protocol.EstimateTokens(*f.req)
	}
	return f.estimate, true, true
}

// surelyFits reports, without decoding the body, whether the call's
// prompt plus the output it asks for cannot exceed window (the body is
// scanned once for all the call's targets): the estimate's bound for a
// provider; for a local model, a bound of what its tokenizer can make of
// the rendered prompt — a token covers at least one byte, and a chat
// template adds less than localTemplateBytes and at most doubles the text
// it quotes (tool schemas indented again). Were the local bound ever
// wrong, the engine still counts as it renders and refuses what does not
// fit (a skip too): the count here only spares loading a model that
// cannot take the request.
func (f *contextFit) surelyFits(c *call, window int, local bool) bool {
	if f.bound == 0 {
		f.bound, f.output = c.estimateBound()
	}
	if local {
		return f.bound > 0 && 2*len(c.body)+localTemplateBytes+f.output <= window
	}
	return f.bound > 0 && f.bound <= window
}

// localTemplateBytes bounds what a chat template adds to a conversation
// of its own: role markers, a default system prompt, a date line.
const localTemplateBytes = 4096

// estimateBound is an upper bound of protocol.EstimateTokens of the call
// plus the output it asks for, read from its body without decoding it:
// half a token per byte of the body (each text is at most one per two of
// its bytes, plus one its quotes cover; the framing of a message, block or
// tool is less than half its JSON) and 1,600 for every "image" in it
// (every image part's type says so). -1 when the body cannot tell: a
// request continuing a stored response holds more than its body, and an
// output limit that is not a plain whole number is the decoder's to read.
func (c *call) estimateBound() (bound, output int) {
	if c.decode != nil {
		return -1, 0
	}
	ok := true
	topLevel(c.body, func(key, value []byte) {
		switch string(key) {
		case "max_tokens", "max_completion_tokens", "max_output_tokens":
			n, err := strconv.Atoi(string(value))
			switch {
			case string(value) == "null":
			case err != nil || n < 0:
				ok = false
			default:
				output = max(output, n)
			}
		}
	})
	if !ok {
		return -1, 0
	}
	output = max(output, 1)
	return len(c.body)/2 + 1600*bytes.Count(c.body, []byte("image")) + output, output
}

// contextWindow is the context window of plan.Targets[i] in tokens, 0
// when unknown: a local model's from its config; a provider model's from
// the provider's last good model list (never waited for: until it comes
// the window is unknown); else, for a member of the route's
// group, the route's max_context. A fallback's window is its list's only.
func (s *Server) contextWindow(plan router.Plan, i int) int {
	t := plan.Targets[i]
	if t.Backend == router.Local {
		if s.opts.Local == nil {
			return 0
		}
		n, err := s.opts.Local.ContextLength(t.Model)
		if err != nil {
			return 0 // the attempt says why the model cannot serve
		}
		return n
	}
	if m, ok := s.providerModel(t.Backend, t.Model); ok && m.ContextLength > 0 {
		return m.ContextLength
	}
	if r := plan.Route; r != nil && r.MaxContext != nil && *r.MaxContext > 0 && i < max(plan.Group, 1) {
		return int(*r.MaxContext)
	}
	return 0
}

// localWindowError is the local engine's own refusal of a prompt that
// leaves no room in its model's window, as the walk skips it.
func localWindowError(ce *engine.ContextError) error {
	return &failover.CannotTakeError{Err: &windowError{Backend: router.Local, Window: ce.Window, Prompt: ce.Tokens, Param: ce.Param}}
}

// promptParam is the request field an endpoint's prompt is in.
func promptParam(ep endpoint) string {
	if ep == responsesEndpoint {
		return "input"
	}
	return "messages"
}

// warmWindows asks for the model list of every provider a route sends to,
// now and after every change, so that a window is known before a request
// needs it; from then on the walk reads the lists. Before, it reads none:
// a request never makes the gateway fetch a list.
func (s *Server) warmWindows() {
	if s.windows.Swap(true) {
		return
	}
	ask := func() {
		for _, b := range routedBackends(s.cfg.Table().Routes()) {
			s.catalog.Models(b)
		}
	}
	ask()
	s.cfg.OnChange(ask)
}

// providerModel is a model of the provider's last good model list, once
// the lists are warmed (warmWindows); Ollama's "llama3.2" finds
// "llama3.2:latest" (providers.Catalog.Find).
func (s *Server) providerModel(provider, model string) (providers.ModelInfo, bool) {
	if !s.windows.Load() {
		return providers.ModelInfo{}, false
	}
	return s.catalog.Find(provider, model)
}

// routedBackends names every provider an enabled route may send to — its
// group, its fallbacks — whose model list may give a window.
func routedBackends(routes []router.Route) []string {
	var out []string
	add := func(b string) {
		if b != router.Local && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	for _, r := range routes {
		if !r.Enabled {
			continue
		}
		add(r.Backend)
		for _, m := range r.Targets {
			add(m.Backend)
		}
		for _, f := range r.Fallbacks {
			b, _ := router.SplitFallback(f)
			add(b)
		}
	}
	return out
}
