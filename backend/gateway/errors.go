package gateway

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/conversations"
	"github.com/modelbar/modelbar/backend/downloads"
	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/anthropic"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// apiError is an error with everything the client's error body needs.
type apiError struct {
	Status  int
	Type    string // OpenAI error type: invalid_request_error, not_found_error, ...
	Code    string
	Param   string
	Message string
	Header  http.Header // extra response headers (Retry-After; a relayed provider error's own headers)
	Raw     []byte      // a provider's own error body, relayed as is to a client of its protocol
}

func (e *apiError) Error() string { return e.Message }

// toAPIError is the one place where an error becomes an HTTP status and a
// client-visible message. Unknown errors become a 500 whose message says
// nothing internal; the handler logs the cause.
func toAPIError(err error) *apiError {
	var (
		ae  *apiError
		re  *protocol.RequestError
		fe  *router.FieldError
		ce  *config.ConflictError
		pe  *providers.Error
		ue  *failover.UnavailableError
		mbe *http.MaxBytesError
		cfe *conversations.FieldError
		de  *downloads.Error
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &de):
		return downloadError(de)
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "request_too_large",
			Message: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)}
	case errors.As(err, &re):
		return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: re.Param, Message: re.Error()}
	case errors.As(err, &fe):
		return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: fe.Field, Message: fe.Error()}
	case errors.As(err, &cfe):
		return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: cfe.Field, Message: cfe.Error()}
	case errors.Is(err, config.ErrNotFound), conversations.IsNotFound(err):
		return &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "not_found", Message: err.Error()}
	case errors.As(err, &ce):
		return &apiError{Status: http.StatusConflict, Type: "conflict_error", Code: "conflict", Message: ce.Error()}
	case errors.As(err, &ue):
		status := cmp.Or(ue.Status, http.StatusServiceUnavailable)
		e := &apiError{Status: status, Type: "server_error", Code: "backend_unavailable", Message: ue.Message}
		if ue.RetryAfter > 0 {
			e.Header = http.Header{"Retry-After": {strconv.Itoa(int(math.Ceil(ue.RetryAfter.Seconds())))}}
		}
		return e
	case errors.As(err, &pe):
		return providerAPIError(pe)
	case errors.Is(err, failover.ErrRequestTimeout):
		return &apiError{Status: http.StatusGatewayTimeout, Type: "server_error", Code: "timeout",
			Message: "no backend answered within the request timeout (request_timeout_seconds), retries and failovers included"}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusGatewayTimeout, Type: "server_error", Code: "timeout", Message: "the request timed out"}
	}
	return &apiError{Status: http.StatusInternalServerError, Type: "server_error", Message: "internal error: see the modelbar log"}
}

// providerAPIError keeps the provider's status for its client-side errors
// (4xx, 429 included, so clients back off) and maps its server-side failures
// onto 502/503/504, the provider's message kept in every case.
func providerAPIError(pe *providers.Error) *apiError {
	e := &apiError{Type: "server_error", Message: pe.Error()}
	switch pe.Kind {
	case providers.KindTimeout:
		e.Status, e.Code = http.StatusGatewayTimeout, "upstream_timeout"
	case providers.KindConnection:
		e.Status, e.Code = http.StatusBadGateway, "upstream_unreachable"
	case providers.KindCanceled:
		e.Status, e.Code = 499, "client_closed_request"
	case providers.KindConfig:
		e.Status, e.Code = http.StatusBadGateway, "provider_unusable" // its key is unreadable, or it redirected elsewhere
	default:
		// A provider of the client's own API has its error body relayed
		// (request ids, error types a client acts on); translation clears
		// the body first.
		e.Status, e.Code = pe.Status, "upstream_error"
		if errorEnvelope(pe.Body) {
			e.Raw = pe.Body
		} // else a flat body (SGLang's {"object":"error","message":...}, a proxy's text) no SDK could read: ours, with its message
		switch {
		case pe.Status == http.StatusTooManyRequests:
			e.Type = "rate_limit_error"
		case pe.Status < 500:
			e.Type = "invalid_request_error"
		case pe.Status == http.StatusServiceUnavailable, pe.Status == http.StatusGatewayTimeout, pe.Status == 529:
			// Kept: 503 and Anthropic's 529 "overloaded" tell a client to
			// back off (Claude Code switches to its fallback model on 529).
		default:
			e.Status = http.StatusBadGateway
		}
	}
	e.Header = http.Header{}
	if e.Raw != nil {
		copyResponseHeaders(e.Header, pe.Header) // x-request-id and the like, as on success
		e.Header.Del("Content-Type")
		e.Header.Del("Vary")
	}
	if pe.RetryAfter > 0 {
		e.Header.Set("Retry-After", strconv.Itoa(int(pe.RetryAfter.Seconds()+0.5)))
	}
	return e
}

// errorEnvelope reports whether body is an error in the shape both APIs
// share: a JSON object whose "error" is an object (OpenAI's
// {"error":{...}}, Anthropic's {"type":"error","error":{...}}).
func errorEnvelope(body []byte) bool {
	var doc struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return false
	}
	b := bytes.TrimSpace(doc.Error)
	return len(b) > 0 && b[0] == '{'
}

// fail writes err as the error body of the request's protocol.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if e.Status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	failWith(w, r, e)
	if info := infoFrom(r.Context()); info != nil {
		info.errMsg = loggable(err, e.Message)
	}
}

// loggable is what the log and the request log say of a failure: the
// client's message, except that a provider's own words (which may quote
// the prompt) are left out.
func loggable(err error, message string) string {
	var pe *providers.Error
	if errors.As(err, &pe) {
		return pe.Summary()
	}
	return message
}

func failWith(w http.ResponseWriter, r *http.Request, e *apiError) {
	info := infoFrom(r.Context())
	if info != nil {
		info.errMsg = e.Message
	}
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	body := e.Raw
	if len(body) == 0 || !json.Valid(body) {
		body = clientDialect(info).errorBody(e)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	w.Write(body)
}

// clientDialect is the API the client speaks: its requests' errors come in
// that API's shape. The admin API uses OpenAI's.
func clientDialect(info *requestInfo) *dialect {
	if info != nil && info.protocol == string(protocol.Anthropic) {
		return dialects[protocol.Anthropic]
	}
	return dialects[protocol.OpenAI]
}

// anthropicErrorBody is Anthropic's error shape, its type following the
// status as Anthropic's own API would choose it.
func anthropicErrorBody(e *apiError) []byte {
	return anthropic.ErrorBody(anthropic.ErrorType(e.Status), e.Message)
}

// openAIErrorBody is OpenAI's error shape.
func openAIErrorBody(e *apiError) []byte {
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	b := body{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		b.Param = &e.Param
	}
	if e.Code != "" {
		b.Code = &e.Code
	}
	out, _ := json.Marshal(map[string]body{"error": b})
	return append(out, '\n')
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"internal error: response encoding failed","type":"server_error","param":null,"code":null}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
