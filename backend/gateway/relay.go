package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/providers"
)

// maxResponseBytes bounds a non-streaming response held in memory before it
// is relayed (large embedding batches fit).
const maxResponseBytes = 256 << 20

// relayBody reads the whole response before writing anything, so a failure
// while reading is still a before-first-byte failure and can fail over. A
// body that is not JSON (a proxy's HTML error page, a truncated answer) is
// such a failure too: no client of these APIs could read it.
func relayBody(a *attempt, resp *http.Response) error {
	backend := a.t.Backend
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return &failover.BadAnswer{Err: &providers.Error{Provider: backend, Kind: providers.KindConnection, Err: fmt.Errorf("read response: %w", err)}}
	}
	if len(body) > maxResponseBytes {
		return &failover.BadAnswer{Err: &providers.Error{Provider: backend, Kind: providers.KindStatus, Status: http.StatusBadGateway,
			Message: "response larger than 256 MiB"}}
	}
	if !json.Valid(body) {
		return &failover.BadAnswer{Err: &providers.Error{Provider: backend, Kind: providers.KindStatus, Status: http.StatusBadGateway,
			Message: "unreadable answer: the body is not JSON"}}
	}
	infoFrom(a.r.Context()).noteWireUsage(body)
	infoFrom(a.r.Context()).endStream() // whole: nothing a client could stop
	a.commit(resp.Header)
	a.w.WriteHeader(resp.StatusCode)
	a.w.Write(body)
	return nil
}

// relayStream forwards a server-sent-events response one event at a time,
// flushing each as it arrives. It commits to this backend only when the
// first event with data arrives (keep-alive comments before it are dropped),
// so a stream that dies before producing anything fails over. After that, a
// failure — a broken connection, or an end without the protocol's final
// event — is reported in-stream as the protocol's error event; the stream
// never looks complete when it is not.
func (s *Server) relayStream(a *attempt, resp *http.Response) error {
	return s.relayStreamExcept(a, resp, nil)
}

// relayStreamExcept is relayStream that keeps from the client the events
// whose data hide reports (nil: none), after noting their usage: the
// usage chunk modelbar asked a provider for on its own account.
func (s *Server) relayStreamExcept(a *attempt, resp *http.Response, hide func(data []byte) bool) error {
	w, r, backend := a.w, a.r, a.t.Backend
	events := protocol.NewEventReader(resp.Body)
	first, err := firstDataEvent(events)
	if err != nil {
		return &failover.BadAnswer{Err: &providers.Error{Provider: backend, Kind: providers.KindConnection,
			Err: fmt.Errorf("stream ended before its first event: %w", err)}}
	}
	a.commit(resp.Header)
	w.Header().Del("Content-Length")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	wire := dialects[a.c.endpoint.protocol]
	done, failed, finished := false, false, false
	for ev := first; ; {
		data := protocol.EventData(ev)
		if hide == nil || !hide(data) {
			if _, err := w.Write(ev); err != nil {
				return nil // the client is gone; closing resp.Body stops the upstream
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
		}
		infoFrom(r.Context()).noteWireUsage(data)
		infoFrom(r.Context()).noteWireDelta(data)
		done = done || wire.isDone(ev)
		failed = failed || wire.isError(ev)
		finished = finished || (wire.finishes != nil && wire.finishes(ev))
		if ev, err = events.Next(); err == nil {
			continue
		}
		if errors.Is(context.Cause(r.Context()), failover.ErrStreamIdle) {
			err = failover.ErrStreamIdle
		}
		if done || failed || (finished && errors.Is(err, io.EOF)) {
			infoFrom(r.Context()).endStream()
		}
		if done || failed || (finished && errors.Is(err, io.EOF)) || failover.ClientGone(r.Context()) {
			// Complete, or already ended by the backend's own error event
			// (how the connection closes after either does not matter), or
			// finished and cleanly closed by a server that sends no [DONE],
			// or nobody is listening.
			return nil
		}
		msg := streamFailure(backend, err)
		infoFrom(r.Context()).errMsg = msg
		infoFrom(r.Context()).endStream() // by the gateway, with an error event
		s.log.WarnContext(r.Context(), "stream failed after the first byte", "backend", backend, "err", msg)
		w.Write(wire.errorEvent(wire.streamErrorType, msg))
		rc.Flush()
		return nil
	}
}

// firstDataEvent skips the comment-only keep-alives some providers send
// while a model warms up and returns the first event that carries data.
func firstDataEvent(events *protocol.EventReader) ([]byte, error) {
	for {
		ev, err := events.Next()
		if err != nil {
			return nil, err
		}
		if protocol.EventData(ev) != nil || protocol.EventName(ev) != "" {
			return ev, nil
		}
	}
}

func streamFailure(backend string, err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Sprintf("upstream %s ended the stream before it was complete", backend)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("upstream %s broke off the stream before it was complete", backend)
	}
	return fmt.Sprintf("upstream %s stream failed: %v", backend, err)
}

// dropResponseHeaders are upstream headers that describe the upstream
// connection or would change the browser policy of our own origin.
var dropResponseHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Set-Cookie": true, "Alt-Svc": true, "Strict-Transport-Security": true,
}

func copyResponseHeaders(dst, src http.Header) {
	for k, v := range src {
		switch {
		case dropResponseHeaders[k] || strings.HasPrefix(k, "Access-Control-") || strings.HasPrefix(k, "X-Modelbar-"):
			// X-Modelbar-*: a provider that is itself a modelbar must not
			// speak for this one.
			continue
		case k == "Vary": // keep the gateway's own Vary: Origin
			dst[k] = append(dst[k], v...)
			continue
		}
		dst[k] = v
	}
}

// readAllLimited reads a response body of at most limit bytes.
func readAllLimited(resp *http.Response, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("response larger than %d bytes", limit)
	}
	return b, err
}
