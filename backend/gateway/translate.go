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

	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/anthropic"
	"github.com/modelbar/modelbar/backend/providers"
)

// translate serves a chat call through a provider of another API (for a
// provider whose models speak only the Responses API, that one): the
// request is decoded (once per call) and encoded for the provider, and its
// answer decoded and encoded for the client, event by event when streaming.
func (s *Server) translate(a *attempt) error {
	req, err := a.c.chatRequest()
	if errors.Is(err, errBudget) {
		return err
	}
	if err != nil {
		return &failover.CannotTakeError{Err: err}
	}
	req.Model = a.t.Model
	up, down := dialects[chatProtocol(a.client, a.t)], dialects[a.c.endpoint.protocol]
	fold := s.foldsSystem(a.t.Backend)
	resp, err := s.sendTranslated(a, req, up, fold)
	if err != nil && !fold && up == dialects[protocol.Anthropic] && protocol.HasSystemMessage(req.Messages) && refusesSystemMessages(err) {
		// This provider has not the mid-conversation-system beta: fold
		// them into the user turns, now and from now on.
		s.log.InfoContext(a.r.Context(), "provider refuses system messages inside the conversation; folding them into user turns", "backend", a.t.Backend)
		s.noSystemMessages.Store(a.t.Backend, true)
		resp, err = s.sendTranslated(a, req, up, true)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	x := &translation{s: s, a: a, req: req, up: up, down: down, upstream: resp.Header}
	if isEventStream(resp.Header) {
		return x.stream(resp.Body)
	}
	return x.body(resp.Body)
}

// sendTranslated encodes req for the provider and sends it, with the
// client's headers that the provider's API has. What the encoding and
// the headers leave out is the attempt's to name (X-Modelbar-Dropped).
func (s *Server) sendTranslated(a *attempt, req protocol.Request, up *dialect, foldSystem bool) (*http.Response, error) {
	body, dropped, err := up.encodeRequest(req, a.client, foldSystem)
	if err != nil {
		return nil, &failover.CannotTakeError{Err: err}
	}
	h := providers.TranslatedHeader(a.client.Type(), a.r.Header)
	h.Set("Content-Type", "application/json")
	if up == dialects[protocol.Anthropic] && !foldSystem && protocol.HasSystemMessage(req.Messages) {
		h.Add("anthropic-beta", anthropic.SystemMessagesBeta)
	}
	if a.client.Type() != providers.Anthropic && a.r.Header.Get("anthropic-beta") != "" {
		dropped = append(slices.Clone(dropped), "anthropic-beta")
		slices.Sort(dropped)
	}
	a.dropped = dropped
	resp, err := a.forward(up.chatPath, h, body)
	if err != nil {
		return nil, acrossProtocols(err)
	}
	return resp, nil
}

// foldsSystem reports whether a provider refused system messages inside
// the conversation before.
func (s *Server) foldsSystem(provider string) bool {
	_, ok := s.noSystemMessages.Load(provider)
	return ok
}

// refusesSystemMessages reports whether a provider's error is its refusal
// of a system message inside the conversation ("Unexpected role \"system\"",
// "messages: role system is not supported", ...).
func refusesSystemMessages(err error) bool {
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Kind != providers.KindStatus || pe.Status != http.StatusBadRequest {
		return false
	}
	msg := strings.ToLower(pe.Message + " " + string(pe.Body))
	return strings.Contains(msg, "system") && (strings.Contains(msg, "role") || strings.Contains(msg, "mid-conversation"))
}

// acrossProtocols drops a provider's own error body: it is in the other
// API's shape, so the client gets the message in its own shape instead.
func acrossProtocols(err error) error {
	if pe, ok := err.(*providers.Error); ok {
		pe.Body = nil
	}
	return err
}

// translation is one translated answer on its way to the client, through
// the attempt that owns it.
type translation struct {
	s        *Server
	a        *attempt
	req      protocol.Request
	up, down *dialect    // up: the backend's API (nil for the local engine); down: the client's
	upstream http.Header // the backend's response headers, given to the client at commit
}

func (x *translation) w() http.ResponseWriter { return x.a.w }
func (x *translation) ctx() context.Context   { return x.a.r.Context() }
func (x *translation) backend() string        { return x.a.t.Backend }
func (x *translation) commit()                { x.a.commit(x.upstream) }

// body translates a complete response. A streaming client of a backend that
// answered in one piece gets the answer as a stream.
func (x *translation) body(rd io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(rd, maxResponseBytes))
	if err != nil {
		return &failover.BadAnswer{Err: &providers.Error{Provider: x.backend(), Kind: providers.KindConnection, Err: fmt.Errorf("read response: %w", err)}}
	}
	res, err := x.up.decodeResponse(raw)
	if err != nil {
		return x.unreadable(err)
	}
	infoFrom(x.ctx()).noteUsage(res.Usage)
	infoFrom(x.ctx()).endStream() // whole, even when sent as a stream
	if x.req.Stream {
		return x.emit(protocol.ResponseEvents(res))
	}
	out, err := x.down.encodeResponse(x.req, res)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", x.backend(), err)
	}
	x.commit()
	x.w().Header().Set("Content-Type", "application/json")
	x.w().WriteHeader(http.StatusOK)
	x.w().Write(out)
	return nil
}

// emit streams a known list of events.
func (x *translation) emit(events []protocol.Event) error {
	enc := usageEncoder{x.down.newEncoder(x.req, time.Now().Unix()), infoFrom(x.ctx())}
	var out []byte
	for _, ev := range events {
		out = append(out, enc.Encode(ev)...)
	}
	x.startStream()
	x.w().Write(out)
	http.NewResponseController(x.w()).Flush()
	return nil
}

func (x *translation) startStream() {
	x.commit()
	h := x.w().Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	x.w().WriteHeader(http.StatusOK)
}

// stream translates a server-sent-events answer. Nothing is written until
// the backend has produced content (its opening message event alone does
// not count), so a backend that fails or reports an error before that
// still fails over; after that, failures end the client's stream with an
// error event in the client's API.
func (x *translation) stream(rd io.Reader) error {
	events := protocol.NewEventReader(rd)
	dec := x.up.newDecoder()
	enc := usageEncoder{x.down.newEncoder(x.req, time.Now().Unix()), infoFrom(x.ctx())}
	pending, ended, err := x.prelude(events, dec, enc)
	if err != nil {
		return err
	}
	x.startStream()
	rc := http.NewResponseController(x.w())
	for out := pending; ; {
		if _, err := x.w().Write(out); err != nil {
			return nil // the client is gone
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		if ended {
			if !failover.ClientGone(x.ctx()) {
				infoFrom(x.ctx()).endStream()
			}
			return nil
		}
		out, ended = x.next(events, dec, enc)
	}
}

// prelude reads until the encoder has content to send, returning it.
func (x *translation) prelude(events *protocol.EventReader, dec streamDecoder, enc streamEncoder) ([]byte, bool, error) {
	var pending []byte
	for {
		raw, err := events.Next()
		if err != nil {
			return nil, false, &failover.BadAnswer{Err: &providers.Error{Provider: x.backend(), Kind: providers.KindConnection,
				Err: fmt.Errorf("stream ended before its first event: %w", err)}}
		}
		evs, err := dec.Decode(raw)
		if err != nil {
			return nil, false, x.unreadable(err)
		}
		x.a.open() // a reasoning model may open its message minutes before content
		content := false
		for _, ev := range evs {
			if ev.Type == protocol.EventError {
				return nil, false, &failover.BadAnswer{Err: &providers.Error{Provider: x.backend(), Kind: providers.KindStatus,
					Status: http.StatusBadGateway, Message: ev.Err.Message}}
			}
			content = content || ev.Type != protocol.EventStart
			pending = append(pending, enc.Encode(ev)...)
		}
		if content {
			return pending, endsStream(evs), nil
		}
	}
}

// next translates the next backend event; after a failure it returns the
// client's error event and ended.
func (x *translation) next(events *protocol.EventReader, dec streamDecoder, enc streamEncoder) ([]byte, bool) {
	raw, err := events.Next()
	last := err != nil // the backend's stream is over, one way or another
	var evs []protocol.Event
	switch {
	case last && failover.ClientGone(x.ctx()):
		return nil, true
	case last:
		evs, err = dec.Finish()
	default:
		evs, err = dec.Decode(raw)
	}
	var out []byte
	for _, ev := range evs {
		out = append(out, enc.Encode(ev)...)
	}
	if errors.Is(context.Cause(x.ctx()), failover.ErrStreamIdle) {
		evs, err = nil, failover.ErrStreamIdle
	}
	if err != nil {
		msg := fmt.Sprintf("upstream %s stream failed: %v", x.backend(), err)
		infoFrom(x.ctx()).errMsg = msg
		x.s.log.WarnContext(x.ctx(), "translated stream failed after the first byte", "backend", x.backend(), "err", msg)
		out = append(out, enc.Encode(protocol.Event{Type: protocol.EventError,
			Err: &protocol.StreamError{Type: x.down.streamErrorType, Message: msg}})...)
		return out, true
	}
	return out, last || endsStream(evs)
}

func endsStream(evs []protocol.Event) bool {
	for _, ev := range evs {
		if ev.Type == protocol.EventStop || ev.Type == protocol.EventError {
			return true
		}
	}
	return false
}

// unreadable: the backend answered with something its own API does not
// allow. Nothing has been written, so another backend may try.
func (x *translation) unreadable(err error) error {
	return &failover.BadAnswer{Err: &providers.Error{Provider: x.backend(), Kind: providers.KindStatus, Status: http.StatusBadGateway,
		Message: "unreadable answer: " + err.Error()}}
}
