package gateway_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/gateway"
)

// A backend that accepts the request and then says nothing is a failure
// like any other: after the first-byte deadline the chain moves on.
func TestFailover_OnAStalledBackend(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "whole answer", true: "stream"}[stream]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(o *gateway.Options) { o.FirstByteTimeout = 200 * time.Millisecond })
			stall := make(chan struct{})
			defer close(stall)
			stalled := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if stream {
					startSSE(w) // headers, then nothing
				}
				select {
				case <-stall:
				case <-r.Context().Done():
				}
			})
			fallbackReply, body := okChat("from fallback"), chatBody
			if stream {
				fallbackReply, body = sse(chunk("from fallback"), done), streamBody
			}
			fallback := newFake(t, fallbackReply)
			h.putProvider("stalled", stalled.baseURL(), "")
			h.putProvider("fallback", fallback.baseURL(), "")
			h.route("m", "stalled", "fallback")

			resp, got := h.post("/v1/chat/completions", body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), "from fallback") {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			if got := resp.Header.Get("X-Modelbar-Fallback-From"); got != "stalled" {
				t.Errorf("X-Modelbar-Fallback-From = %q", got)
			}
		})
	}
}

// With no fallback, a stall is a 504 in the client's shape.
func TestStalledBackend_Is504(t *testing.T) {
	h := newHarness(t, func(o *gateway.Options) { o.FirstByteTimeout = 100 * time.Millisecond })
	stall := make(chan struct{})
	defer close(stall)
	stalled := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})
	h.putProvider("stalled", stalled.baseURL(), "")
	h.route("m", "stalled")
	resp, got := h.post("/v1/chat/completions", chatBody)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	if e := mustOpenAIError(t, got); deref(e.Code) != "upstream_timeout" {
		t.Errorf("code %q", deref(e.Code))
	}
}

// A provider that is itself a modelbar must not speak for this one: its
// X-Modelbar-* headers never reach the client, on success or error.
func TestUpstreamModelbarHeadersDropped(t *testing.T) {
	h := newHarness(t)
	inner := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Modelbar-Backend", "inner-backend")
			w.Header().Set("X-Modelbar-Fallback-From", "inner-local")
			if status == http.StatusOK {
				okChat("hi")(w, r)
				return
			}
			reply(status, `{"error":{"message":"no","type":"invalid_request_error"}}`)(w, r)
		}
	}
	h.putProvider("ok", newFake(t, inner(http.StatusOK)).baseURL(), "")
	h.putProvider("bad", newFake(t, inner(http.StatusBadRequest)).baseURL(), "")
	h.route("m-ok", "ok")
	h.route("m-bad", "bad")
	for model, backend := range map[string]string{"m-ok": "ok", "m-bad": "bad"} {
		resp, _ := h.post("/v1/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"x"}]}`)
		if got := resp.Header.Get("X-Modelbar-Backend"); got != backend {
			t.Errorf("%s: X-Modelbar-Backend = %q, want %q", model, got, backend)
		}
		if got := resp.Header.Get("X-Modelbar-Fallback-From"); got != "" {
			t.Errorf("%s: X-Modelbar-Fallback-From = %q, want none", model, got)
		}
	}
}

// RFC 7235: the auth scheme is case-insensitive.
func TestAdmin_BearerSchemeAnyCase(t *testing.T) {
	h := newHarness(t)
	for _, auth := range []string{"Bearer " + adminToken, "bearer " + adminToken, "BEARER  " + adminToken} {
		resp, _ := h.do(h.request(http.MethodGet, "/api/status", nil, "Authorization", auth))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%q: status %d", auth, resp.StatusCode)
		}
	}
	for _, auth := range []string{"Basic " + adminToken, adminToken, "Bearer", "Bearer " + adminToken + "x"} {
		resp, _ := h.do(h.request(http.MethodGet, "/api/status", nil, "Authorization", auth))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%q: status %d, want 401", auth, resp.StatusCode)
		}
	}
}

// Listening on all interfaces (the user chose to serve the LAN), the
// machine's own IPs and names are its address; other names still are not.
func TestHost_AllInterfaces(t *testing.T) {
	h := newHarness(t, func(o *gateway.Options) { o.Addr = "0.0.0.0:11500" })
	name, err := os.Hostname()
	if err != nil {
		t.Skip("no hostname")
	}
	name = strings.ToLower(strings.TrimSuffix(name, ".local"))
	for host, want := range map[string]int{
		"192.168.1.10:11500":     http.StatusOK,
		"[fe80::1]:11500":        http.StatusOK,
		name + ":11500":          http.StatusOK,
		name + ".local:11500":    http.StatusOK,
		"evil.example:11500":     http.StatusForbidden,
		name + ".evil.example:1": http.StatusForbidden,
		"localhost:11500":        http.StatusOK,
	} {
		resp, _ := h.do(h.request(http.MethodGet, "/v1/models", nil, "Host", host))
		if resp.StatusCode != want {
			t.Errorf("Host %s: status %d, want %d", host, resp.StatusCode, want)
		}
	}
}
