package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/grammar"
	"github.com/modelbar/modelbar/backend/engine/pool"
	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/router"
)

// Local is the in-process engine as the gateway uses it. Chat blocks for
// the whole generation, calling emit as events are produced; it returns
// before the first event when the model cannot serve (missing, failed to
// load, no room, request does not fit it). Safe for concurrent use.
type Local interface {
	Has(model string) bool
	Chat(ctx context.Context, r protocol.Request, emit func(protocol.Event) error) error
	// CountTokens is the prompt Chat would give the model, in tokens.
	CountTokens(ctx context.Context, r protocol.Request) (int, error)
	// CountPrompt is CountTokens without loading the model: its
	// tokenizer and chat template only, read from disk when it is not
	// loaded. It blocks for that read.
	CountPrompt(ctx context.Context, r protocol.Request) (int, error)
	// ContextLength is the model's context window, in tokens.
	ContextLength(model string) (int, error)
	Complete(ctx context.Context, c engine.Completion, emit func(string) error) (generate.Result, error)
	Models() []engine.Model
	Load(ctx context.Context, model string, pin bool) error
	Unload(model string) (bool, error)
	Pin(model string, pinned bool) error
	Backend() string
	BackendReason() string
}

var _ Local = (*engine.Engine)(nil)

// localHas reports whether the local engine serves model.
func (s *Server) localHas(model string) bool { return s.opts.Local != nil && s.opts.Local.Has(model) }

// viaLocal serves a chat call with the local engine, in the client's API.
func (s *Server) viaLocal(a *attempt) error {
	if s.opts.Local == nil {
		return errLocalUnavailable
	}
	if a.c.endpoint == completions {
		return s.localCompletion(a)
	}
	if !a.c.endpoint.chat {
		return &failover.UnavailableError{Backend: router.Local, Status: http.StatusNotImplemented,
			Message: fmt.Sprintf("the local engine does not serve %s yet", a.c.endpoint.path)}
	}
	req, err := a.c.chatRequest()
	if err != nil {
		return err
	}
	down := dialects[a.c.endpoint.protocol]
	if err := localRefuses(req, down); err != nil {
		return &failover.CannotTakeError{Err: err}
	}
	a.dropped = localDrops(req)
	req.Model = a.t.Model
	x := &translation{s: s, a: a, req: req, down: down, upstream: http.Header{}}
	if req.Stream {
		return x.local(s.opts.Local)
	}
	var evs []protocol.Event
	if err := s.opts.Local.Chat(a.r.Context(), req, func(ev protocol.Event) error {
		if len(evs) == 0 {
			a.open() // the model is loaded and generating: however long it takes, it is answering
		}
		evs = append(evs, ev)
		return nil
	}); err != nil {
		return localError(err)
	}
	res, err := protocol.Aggregate(evs)
	if err != nil {
		return localError(err)
	}
	infoFrom(a.r.Context()).noteUsage(res.Usage)
	infoFrom(a.r.Context()).endStream()
	out, err := down.encodeResponse(req, res)
	if err != nil {
		return err
	}
	x.commit()
	a.w.Header().Set("Content-Type", "application/json")
	a.w.WriteHeader(http.StatusOK)
	a.w.Write(out)
	return nil
}

// local streams the engine's events to the client, committing on the first
// content (the engine's opening event is held back with it), and ending the
// stream with the client's error event if generation fails after that.
func (x *translation) local(l Local) error {
	enc := usageEncoder{x.down.newEncoder(x.req, time.Now().Unix()), infoFrom(x.ctx())}
	if info := infoFrom(x.ctx()); info != nil {
		info.localCount = true // the engine streams about a token a delta
	}
	var held []byte
	committed := false
	rc := http.NewResponseController(x.w())
	err := l.Chat(x.ctx(), x.req, func(ev protocol.Event) error {
		out := enc.Encode(ev)
		if !committed && ev.Type == protocol.EventStart {
			// The model is loaded and starting: a long prompt's prefill
			// may outlast the first-byte deadline, which is for backends
			// that hang, not for one that is working.
			x.a.open()
			held = append(held, out...)
			return nil
		}
		if !committed {
			committed = true
			x.startStream()
			out = append(held, out...)
		}
		if _, err := x.w().Write(out); err != nil {
			return err
		}
		return rc.Flush()
	})
	switch {
	case err == nil:
		infoFrom(x.ctx()).endStream()
		return nil
	case !committed:
		return localError(err)
	case x.ctx().Err() == nil:
		msg := "local generation failed: " + err.Error()
		infoFrom(x.ctx()).errMsg = msg
		infoFrom(x.ctx()).endStream()
		x.w().Write(enc.Encode(protocol.Event{Type: protocol.EventError, Err: &protocol.StreamError{Type: x.down.streamErrorType, Message: msg}}))
		rc.Flush()
	}
	return nil
}

// localError sorts an engine failure before the first byte: a prompt that
// does not fit the model's context window is skipped like a backend that
// cannot take it (the next backend may have a larger window; the walk
// tells the client when none has); the client's other mistakes (images)
// stay 400s; a model that is missing, cannot load or has no room is the
// engine being unavailable, and the chain moves on.
func localError(err error) error {
	var (
		ce *engine.ContextError
		re *protocol.RequestError
	)
	switch {
	case errors.As(err, &ce):
		return localWindowError(ce)
	case errors.As(err, &re), errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, engine.ErrNotFound):
		return &failover.UnavailableError{Backend: router.Local, Status: http.StatusNotFound, Message: err.Error()}
	case errors.Is(err, pool.ErrNoRoom), errors.Is(err, pool.ErrTooLarge):
		return &failover.UnavailableError{Backend: router.Local, Message: err.Error()}
	}
	return &failover.UnavailableError{Backend: router.Local, Message: "local engine: " + err.Error()}
}

// localRefuses is what the local engine cannot give and the client would
// miss: JSON constrained to a schema outside the subset its grammar
// supports (the error names the keyword and where it is), or together
// with a forced tool call (the answer cannot be both), several choices, token
// probabilities, token biases, and what no backend of another API can
// carry. The error names the client's field.
func localRefuses(r protocol.Request, d *dialect) error {
	no := func(field, what string) error {
		return &protocol.RequestError{Param: field, Message: fmt.Sprintf("the local engine %s: leave %s out, or route this model to a provider", what, field)}
	}
	field := d.outputField
	if r.Output != nil && r.Output.Field != "" {
		field = r.Output.Field
	}
	switch {
	case r.Output != nil && outputSchemaError(r.Output) != nil:
		return &protocol.RequestError{Param: field, Message: outputSchemaError(r.Output).Error() +
			": simplify the schema, or route this model to a provider"}
	case r.Output != nil && forcesCall(r):
		return &protocol.RequestError{Param: field, Message: "the local engine cannot force a tool call (tool_choice) and constrain the answer to a JSON format at once: " +
			"leave " + field + " out of a turn that must call a tool, or route this model to a provider"}
	case len(r.Untranslatable) > 0:
		return no(r.Untranslatable[0], "has no counterpart of it")
	case r.N != nil && *r.N > 1:
		return no("n", "returns one choice per request")
	case r.Logprobs != nil && *r.Logprobs, r.TopLogprobs != nil && *r.TopLogprobs > 0:
		return no("logprobs", "does not return token probabilities")
	case len(r.LogitBias) > 0:
		return no("logit_bias", "cannot bias token probabilities")
	}
	return nil
}

// forcesCall reports whether r makes its answer call a tool (tool_choice
// required or a named tool, with tools offered).
func forcesCall(r protocol.Request) bool {
	return len(r.Tools) > 0 && r.ToolChoice != nil &&
		(r.ToolChoice.Mode == protocol.ToolChoiceRequired || r.ToolChoice.Mode == protocol.ToolChoiceTool)
}

// outputSchemaError is why the engine cannot constrain its answer to o's
// schema (a *grammar.SchemaError), or nil.
func outputSchemaError(o *protocol.OutputFormat) error {
	_, err := grammar.Compile(o.Schema)
	return err
}

// localDrops names what the local engine leaves out: the request's hints,
// the sampling controls it does not have, and the tools of a request with
// an output format (the answer is the JSON; a call the model may choose
// cannot be made).
func localDrops(r protocol.Request) []string {
	dropped := slices.Clone(r.Dropped)
	if r.PresencePenalty != nil {
		dropped = append(dropped, "presence_penalty")
	}
	if r.FrequencyPenalty != nil {
		dropped = append(dropped, "frequency_penalty")
	}
	if r.Effort != "" {
		dropped = append(dropped, "effort")
	}
	if r.Output != nil && len(r.Tools) > 0 && (r.ToolChoice == nil || r.ToolChoice.Mode != protocol.ToolChoiceNone) {
		dropped = append(dropped, "tools") // the answer is the JSON: no call can be made
	}
	slices.Sort(dropped)
	return dropped
}
