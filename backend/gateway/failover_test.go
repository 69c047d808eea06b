package gateway_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

const chatBody = `{"model":"m","messages":[{"role":"user","content":"x"}]}`

const upstreamError = `{"error":{"message":"upstream exploded","type":"server_error","param":null,"code":null}}`

// A primary that fails before the first byte with a retryable failure hands
// the request to the fallback, and the response says so.
func TestFailover_BeforeFirstByte(t *testing.T) {
	tests := []struct {
		name    string
		primary http.HandlerFunc // nil: a dead address
		stream  bool
	}{
		{"500", reply(http.StatusInternalServerError, upstreamError), false},
		{"429 with Retry-After", reply(http.StatusTooManyRequests, upstreamError, "Retry-After", "7"), false},
		{"503", reply(http.StatusServiceUnavailable, upstreamError), false},
		{"408", reply(http.StatusRequestTimeout, upstreamError), false},
		{"connection refused", nil, false},
		{"body cut before it ends", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"id":`))
			http.NewResponseController(w).Flush()
			abort()
		}, false},
		{"stream: 500", reply(http.StatusInternalServerError, upstreamError), true},
		{"stream: connection refused", nil, true},
		{"stream: cut before the first event", func(w http.ResponseWriter, _ *http.Request) {
			startSSE(w)
			abort()
		}, true},
		{"stream: ends before the first event", func(w http.ResponseWriter, _ *http.Request) { startSSE(w) }, true},
		{"stream: only keep-alive comments, then cut", func(w http.ResponseWriter, _ *http.Request) {
			startSSE(w)
			writeEvent(w, ": OPENROUTER PROCESSING\n\n")
			writeEvent(w, ": OPENROUTER PROCESSING\n\n")
			abort()
		}, true},
		{"stream: cut inside the first event", func(w http.ResponseWriter, _ *http.Request) {
			startSSE(w)
			writeEvent(w, `data: {"id":"c1",`)
			abort()
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			primaryURL := deadURL(t)
			if tt.primary != nil {
				primaryURL = newFake(t, tt.primary).baseURL()
			}
			fallbackReply := okChat("from fallback")
			body := chatBody
			if tt.stream {
				fallbackReply, body = sse(chunk("from fallback"), done), streamBody
			}
			fallback := newFake(t, fallbackReply)
			h.putProvider("primary", primaryURL, "")
			h.putProvider("fallback", fallback.baseURL(), "")
			h.route("m", "primary", "fallback")

			resp, got := h.post("/v1/chat/completions", body)
			if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte("from fallback")) {
				t.Fatalf("status %d, body %s: want the fallback's answer", resp.StatusCode, got)
			}
			if tt.stream && string(got) != chunk("from fallback")+done {
				t.Errorf("stream = %q, want the fallback's stream alone", got)
			}
			for name, want := range map[string]string{
				"X-Modelbar-Backend": "fallback", "X-Modelbar-Fallback-From": "primary", "Retry-After": "",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if got := fallback.only(t).Body; !bytes.Equal(got, []byte(body)) {
				t.Errorf("fallback got body %s, want %s", got, body)
			}
		})
	}
}

func TestFailover_ChainThroughLocal(t *testing.T) {
	tests := []struct {
		name         string
		backend      string
		fallbacks    []string
		wantFrom     string
		wantUpstream string // the model the fallback receives
	}{
		{"local first", "local", []string{"fallback"}, "local", `"model":"m"`},
		{"primary, local, fallback", "primary", []string{"local", "fallback:other-model"}, "primary, local", `"model":"other-model"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			primary := newFake(t, reply(http.StatusBadGateway, upstreamError))
			fallback := newFake(t, okChat("from fallback"))
			h.putProvider("primary", primary.baseURL(), "")
			h.putProvider("fallback", fallback.baseURL(), "")
			h.route("m", tt.backend, tt.fallbacks...)

			resp, got := h.post("/v1/chat/completions", chatBody)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			if got := resp.Header.Get("X-Modelbar-Fallback-From"); got != tt.wantFrom {
				t.Errorf("X-Modelbar-Fallback-From = %q, want %q", got, tt.wantFrom)
			}
			if got := fallback.only(t).Body; !bytes.Contains(got, []byte(tt.wantUpstream)) {
				t.Errorf("fallback got %s, want it to contain %s", got, tt.wantUpstream)
			}
		})
	}
}

// A client error of the provider is the client's to fix: another backend
// would refuse it too, so it reaches the client as the provider sent it.
func TestFailover_NotForClientErrors(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			h := newHarness(t)
			const body = `{"error":{"message":"the provider says no","type":"invalid_request_error","param":"messages","code":"nope"}}`
			primary := newFake(t, reply(status, body, "X-Request-Id", "req_123", "Vary", "Accept-Encoding"))
			fallback := newFake(t, okChat("from fallback"))
			h.putProvider("primary", primary.baseURL(), "")
			h.putProvider("fallback", fallback.baseURL(), "")
			h.route("m", "primary", "fallback")

			resp, got := h.post("/v1/chat/completions", chatBody)
			if resp.StatusCode != status || string(got) != body {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, got, status, body)
			}
			if got := resp.Header.Get("X-Modelbar-Backend"); got != "primary" {
				t.Errorf("X-Modelbar-Backend = %q, want primary", got)
			}
			if got := resp.Header.Get("X-Request-Id"); got != "req_123" {
				t.Errorf("X-Request-Id = %q: the provider's headers should come with its error", got)
			}
			if n := len(fallback.requests()); n != 0 {
				t.Errorf("fallback received %d requests, want 0", n)
			}
		})
	}
}

// With nowhere left to go, the last failure is reported in the OpenAI error
// shape with a status that says whose fault it is.
func TestFailover_LastBackendFailure(t *testing.T) {
	tests := []struct {
		name       string
		primary    http.HandlerFunc // nil: dead address
		backend    string           // "" means the provider "primary"
		wantStatus int
		wantCode   string
		wantInMsg  string
		retryAfter string
	}{
		// A provider's own JSON error body is relayed (its request id and
		// error type are the client's to see); only the status is mapped.
		{"500 becomes 502", reply(http.StatusInternalServerError, upstreamError), "", http.StatusBadGateway, "", "upstream exploded", ""},
		{"text 500 becomes 502", reply(http.StatusInternalServerError, "kaput", "Content-Type", "text/plain"), "", http.StatusBadGateway, "upstream_error", "kaput", ""},
		{"503 stays", reply(http.StatusServiceUnavailable, upstreamError), "", http.StatusServiceUnavailable, "", "upstream exploded", ""},
		{"504 stays", reply(http.StatusGatewayTimeout, upstreamError), "", http.StatusGatewayTimeout, "", "upstream exploded", ""},
		{"429 keeps Retry-After", reply(http.StatusTooManyRequests, upstreamError, "Retry-After", "7"), "", http.StatusTooManyRequests, "", "upstream exploded", "7"},
		{"connection refused", nil, "", http.StatusBadGateway, "upstream_unreachable", "connection", ""},
		{"local engine", nil, "local", http.StatusServiceUnavailable, "backend_unavailable", "local engine not available", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			url := deadURL(t)
			if tt.primary != nil {
				url = newFake(t, tt.primary).baseURL()
			}
			h.putProvider("primary", url, "")
			backend := tt.backend
			if backend == "" {
				backend = "primary"
			}
			h.route("m", backend)

			resp, got := h.post("/v1/chat/completions", chatBody)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, got)
			}
			e := mustOpenAIError(t, got)
			if tt.wantCode != "" && deref(e.Code) != tt.wantCode {
				t.Errorf("code = %q, want %q", deref(e.Code), tt.wantCode)
			}
			if !strings.Contains(e.Message, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", e.Message, tt.wantInMsg)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if got := resp.Header.Get("X-Modelbar-Backend"); got != backend {
				t.Errorf("X-Modelbar-Backend = %q, want %q", got, backend)
			}
		})
	}
}
