package failover_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/providers"
)

func status(code int) *providers.Error {
	return &providers.Error{Provider: "p", Kind: providers.KindStatus, Status: code}
}

// The table from each failure to what the walk does and what cools down.
func TestClassify_Table(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	cases := []struct {
		name   string
		err    error
		action failover.Action
		scope  failover.Scope
	}{
		{"429 rate limited", status(http.StatusTooManyRequests), failover.RetrySame, failover.ScopeModel},
		{"408", status(http.StatusRequestTimeout), failover.RetrySame, failover.ScopeModel},
		{"500", status(500), failover.RetrySame, failover.ScopeModel},
		{"502", status(502), failover.RetrySame, failover.ScopeModel},
		{"503", status(503), failover.RetrySame, failover.ScopeModel},
		{"529 overloaded", status(529), failover.RetrySame, failover.ScopeModel},
		{"400 bad request", status(400), failover.Stop, failover.ScopeNone},
		{"401 bad key", status(401), failover.Stop, failover.ScopeNone},
		{"404 unknown model", status(404), failover.Stop, failover.ScopeNone},
		{"422", status(422), failover.Stop, failover.ScopeNone},
		{"400 context too long (OpenAI)", &providers.Error{Provider: "p", Kind: providers.KindStatus, Status: 400,
			Body: []byte(`{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}`)},
			failover.NextBackend, failover.ScopeNone},
		{"400 context too long (llama.cpp)", &providers.Error{Provider: "p", Kind: providers.KindStatus, Status: 400,
			Message: "the request exceeds the available context size, try increasing it"}, failover.NextBackend, failover.ScopeNone},
		{"400 prompt too long (Anthropic)", &providers.Error{Provider: "p", Kind: providers.KindStatus, Status: 400,
			Message: "prompt is too long: 208000 tokens > 200000 maximum"}, failover.NextBackend, failover.ScopeNone},
		{"400 about something else", &providers.Error{Provider: "p", Kind: providers.KindStatus, Status: 400,
			Message: "temperature must be at most 2"}, failover.Stop, failover.ScopeNone},
		{"500 naming the context", &providers.Error{Provider: "p", Kind: providers.KindStatus, Status: 500,
			Message: "context length bookkeeping failed"}, failover.RetrySame, failover.ScopeModel},
		{"connection refused", &providers.Error{Provider: "p", Kind: providers.KindConnection, Err: dial}, failover.RetrySame, failover.ScopeProvider},
		{"reset before headers", &providers.Error{Provider: "p", Kind: providers.KindConnection, Err: errors.New("read: connection reset by peer")}, failover.RetrySame, failover.ScopeProvider},
		{"DNS", &providers.Error{Provider: "p", Kind: providers.KindConnection, Err: &net.DNSError{Err: "no such host", Name: "x"}}, failover.RetrySame, failover.ScopeProvider},
		{"connect timeout", &providers.Error{Provider: "p", Kind: providers.KindTimeout, Err: dial}, failover.NextBackend, failover.ScopeProvider},
		{"first-byte timeout", &providers.Error{Provider: "p", Kind: providers.KindTimeout,
			Err: fmt.Errorf("no answer within 1s: %w", failover.ErrFirstByteTimeout)}, failover.NextBackend, failover.ScopeModel},
		{"key unreadable", &providers.Error{Provider: "p", Kind: providers.KindConfig, Message: "key unreadable"}, failover.NextBackend, failover.ScopeProvider},
		{"client cancelled", &providers.Error{Provider: "p", Kind: providers.KindCanceled}, failover.Stop, failover.ScopeNone},
		{"malformed answer", &failover.BadAnswer{Err: status(502)}, failover.RetrySame, failover.ScopeModel},
		{"stream broke before its first event", &failover.BadAnswer{Err: &providers.Error{Provider: "p", Kind: providers.KindConnection}}, failover.RetrySame, failover.ScopeModel},
		{"unavailable (not configured, local absent)", &failover.UnavailableError{Backend: "p"}, failover.NextBackend, failover.ScopeNone},
		{"cannot translate", &failover.CannotTakeError{Err: errors.New("documents")}, failover.NextBackend, failover.ScopeNone},
		{"request timeout", failover.ErrRequestTimeout, failover.Stop, failover.ScopeNone},
		{"client's mistake", &protocol.RequestError{Message: "bad"}, failover.Stop, failover.ScopeNone},
		{"context canceled", context.Canceled, failover.Stop, failover.ScopeNone},
		{"unknown", errors.New("?"), failover.Stop, failover.ScopeNone},
		{"wrapped 503", fmt.Errorf("attempt: %w", status(503)), failover.RetrySame, failover.ScopeModel},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := failover.Classify(c.err)
			if v.Action != c.action || v.Scope != c.scope {
				t.Errorf("Classify = %v / %v, want %v / %v", v.Action, v.Scope, c.action, c.scope)
			}
		})
	}
}

func TestAnswered_OnlyConsideredAnswers(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{status(400), true}, {status(404), true}, {status(429), false}, {status(500), false},
		{&providers.Error{Kind: providers.KindCanceled}, false}, {&failover.UnavailableError{}, false},
	} {
		if got := failover.Answered(c.err); got != c.want {
			t.Errorf("Answered(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestWorse_CannotTakeNeverHidesARealFailure(t *testing.T) {
	real := failover.Failure{Backend: "a", Err: status(529)}
	cant := failover.Failure{Backend: "b", Err: &failover.CannotTakeError{Err: errors.New("x")}}
	if got := failover.Worse(&real, cant); got.Backend != "a" {
		t.Errorf("Worse kept %s, want a's 529", got.Backend)
	}
	if got := failover.Worse(&cant, real); got.Backend != "a" {
		t.Errorf("Worse kept %s, want the later real failure", got.Backend)
	}
	later := failover.Failure{Backend: "c", Err: status(500)}
	if got := failover.Worse(&real, later); got.Backend != "c" {
		t.Errorf("Worse kept %s, want the latest", got.Backend)
	}
	if got := failover.Worse(nil, cant); got.Backend != "b" {
		t.Errorf("Worse(nil) = %s", got.Backend)
	}
}
