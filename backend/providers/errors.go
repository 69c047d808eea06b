package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind says how a provider call failed.
type Kind int

const (
	KindStatus     Kind = iota // the provider answered with a non-2xx status
	KindConnection             // dial, TLS, reset, EOF before a response
	KindTimeout                // a deadline passed
	KindCanceled               // the caller's context was cancelled
	// KindConfig: the provider cannot be called as configured, and was not
	// (its key is unreadable), or its answer was not followed (a redirect
	// to another host, which would carry the key away). Message says why.
	KindConfig
)

func (k Kind) String() string {
	switch k {
	case KindStatus:
		return "status"
	case KindConnection:
		return "connection"
	case KindTimeout:
		return "timeout"
	case KindCanceled:
		return "canceled"
	case KindConfig:
		return "config"
	}
	return "unknown"
}

// maxRetryAfter bounds the Retry-After a provider can ask for.
const maxRetryAfter = 24 * time.Hour

// Error is a failed provider call. Its message never carries credentials:
// request headers are not part of it, and the provider's own message is kept
// as the provider wrote it.
type Error struct {
	Provider   string
	Kind       Kind
	Status     int           // KindStatus only
	Message    string        // the provider's error message, if it sent one
	Body       []byte        // the provider's error body (at most 64 KiB), KindStatus only
	Header     http.Header   // the provider's response headers, KindStatus only
	RetryAfter time.Duration // from a Retry-After header, 0 if none
	Err        error         // the transport error, for the other kinds
}

func (e *Error) Error() string {
	switch e.Kind {
	case KindStatus:
		if e.Message != "" {
			return fmt.Sprintf("provider %s: HTTP %d: %s", e.Provider, e.Status, e.Message)
		}
		return fmt.Sprintf("provider %s: HTTP %d", e.Provider, e.Status)
	case KindTimeout:
		return fmt.Sprintf("provider %s: timed out: %v", e.Provider, e.Err)
	case KindCanceled:
		return fmt.Sprintf("provider %s: request cancelled", e.Provider)
	case KindConfig:
		return fmt.Sprintf("provider %s: %s", e.Provider, e.Message)
	}
	return fmt.Sprintf("provider %s: connection failed: %v", e.Provider, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Summary describes the failure without the provider's own message, which
// may quote the client's prompt: for logs, the request log and the status
// page, where prompts never go.
func (e *Error) Summary() string {
	switch e.Kind {
	case KindStatus:
		return fmt.Sprintf("provider %s: HTTP %d", e.Provider, e.Status)
	case KindTimeout:
		return fmt.Sprintf("provider %s: timed out", e.Provider)
	case KindCanceled:
		return fmt.Sprintf("provider %s: request cancelled", e.Provider)
	case KindConfig:
		return fmt.Sprintf("provider %s: %s", e.Provider, e.Message) // modelbar's own words
	}
	return fmt.Sprintf("provider %s: connection failed: %v", e.Provider, e.Err)
}

// Retryable reports whether another backend may be tried after err: the
// failures a healthy fallback can fix (connection errors, timeouts, 408, 429
// and 5xx), never the client's own mistakes or its cancellation.
func Retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Kind {
	case KindConnection, KindTimeout, KindConfig:
		return true
	case KindStatus:
		return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
	}
	return false
}

func statusError(provider string, resp *http.Response) *Error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return &Error{
		Provider:   provider,
		Kind:       KindStatus,
		Status:     resp.StatusCode,
		Message:    errorMessage(body),
		Body:       body,
		Header:     resp.Header.Clone(),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After")),
	}
}

// errorMessage pulls the human message out of an OpenAI-style
// ({"error":{"message"}}), Anthropic-style ({"type":"error","error":{...}}) or
// plain ({"error":"..."}, {"message":"..."}, text) error body.
func errorMessage(body []byte) string {
	var doc struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
	}
	if json.Unmarshal(body, &doc) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var flat string
		switch {
		case json.Unmarshal(doc.Error, &nested) == nil && nested.Message != "":
			return nested.Message
		case json.Unmarshal(doc.Error, &flat) == nil && flat != "":
			return flat
		case doc.Message != "":
			return doc.Message
		case doc.Detail != "":
			return doc.Detail
		}
	}
	text := strings.TrimSpace(string(body))
	if !utf8.ValidString(text) {
		return ""
	}
	if len(text) > 300 {
		text = strings.ToValidUTF8(text[:300], "") + "…"
	}
	return text
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		if secs > int(maxRetryAfter/time.Second) {
			return maxRetryAfter // a larger number would overflow a Duration
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// contextOverflowWords are what engines and vendors say when a prompt
// does not fit the model's window: OpenAI, Groq and OpenRouter
// ("maximum context length", code context_length_exceeded), vLLM (the
// same words), SGLang and LM Studio ("context length"), llama.cpp's
// server ("exceeds the available context size", type
// exceed_context_size_error), Anthropic ("prompt is too long"), Gemini's
// OpenAI API ("maximum number of tokens allowed").
var contextOverflowWords = []string{
	"context_length_exceeded", "exceed_context_size_error", "maximum context length", "context length",
	"context window", "context size", "prompt is too long", "maximum number of tokens allowed",
}

// ContextOverflow reports whether the provider refused the request because
// the prompt (with the output asked for) does not fit the model's context
// window: another backend with a larger window can still answer it.
func (e *Error) ContextOverflow() bool {
	if e.Kind != KindStatus || (e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge &&
		e.Status != http.StatusUnprocessableEntity) {
		return false
	}
	text := strings.ToLower(e.Message + "\n" + string(e.Body))
	for _, w := range contextOverflowWords {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}
