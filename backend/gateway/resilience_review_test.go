package gateway_test

// Regression tests from an adversarial review of the failover layer.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// An Anthropic provider behind an OpenAI client sends message_start and then
// dies before content. prelude() calls x.disarm(), which also stops the
// *request* deadline, so the rest of the walk is no longer bounded by
// request_timeout_seconds.
func TestRequestTimeout_StillBoundsAfterAnOpeningEvent(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"request_timeout_seconds": 1, "first_byte_timeout_seconds": 6, "max_retries": -1, "cooldown_failures": -1})
	a := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeEvent(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\n")
		// then the connection ends: no content
	})
	stall := newFake(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	h.mustAdmin(http.MethodPut, "/api/providers/a", map[string]any{"type": "anthropic", "base_url": a.srv.URL}, http.StatusCreated)
	h.putProvider("b", stall.baseURL(), "")
	h.route("m", "a", "b")
	start := time.Now()
	resp, body := h.post("/v1/chat/completions", streamBody)
	el := time.Since(start)
	t.Logf("status %d after %v: %s", resp.StatusCode, el, body)
	if el > 3*time.Second {
		t.Errorf("request_timeout_seconds=1 but the request took %v", el)
	}
}

// A Retry-After of 10^10 seconds overflows time.Duration in
// providers.retryAfter and turns negative: the gateway then treats it as "no
// Retry-After", retries the same provider twice and never cools it down.
func TestRetry_HugeRetryAfter(t *testing.T) {
	h := newHarness(t)
	h.settings(fastRetries)
	primary := newFake(t, reply(http.StatusTooManyRequests, upstreamError, "Retry-After", "10000000000"))
	fallback := newFake(t, okChat("from fallback"))
	h.putProvider("primary", primary.baseURL(), "")
	h.putProvider("fallback", fallback.baseURL(), "")
	h.route("m", "primary", "fallback")
	resp, body := h.post("/v1/chat/completions", chatBody)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("from fallback")) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	if n := len(primary.requests()); n != 1 {
		t.Errorf("primary called %d times; a Retry-After of 10^10 s must move on at once", n)
	}
	if st := h.cooldowns()["primary/m"]; st != "cooldown" {
		t.Errorf("primary state %q, want cooldown", st)
	}
}

// README: first_byte_timeout_seconds bounds the wait for the answer to
// start; stream_idle_timeout_seconds applies to a *started* stream. The idle
// timer starts at the response headers, so a stream whose first event comes
// after the idle timeout but well within the first-byte timeout is cut, and
// reported as a connection failure that is retried on the same backend.
func TestStreamIdle_NotBeforeTheFirstEvent(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"stream_idle_timeout_seconds": 1, "first_byte_timeout_seconds": 30, "retry_backoff_ms": 1, "cooldown_failures": -1})
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w) // headers at once, then the model thinks for 2 s
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
			return
		}
		writeEvent(w, chunk("slow but fine"))
		writeEvent(w, done)
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	resp, body := h.post("/v1/chat/completions", streamBody)
	t.Logf("status %d, provider calls %d, body %s", resp.StatusCode, len(up.requests()), body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a stream whose first event comes within first_byte_timeout failed")
	}
}

// count_tokens has no timeout at all: an Anthropic provider that accepts
// the connection and never answers hangs the call (Claude Code sends one per
// turn) until the client gives up, instead of falling back to the estimate.
func TestCountTokens_StalledProviderIsEstimated(t *testing.T) {
	h := newHarness(t)
	stall := newFake(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	h.mustAdmin(http.MethodPut, "/api/providers/a", map[string]any{"type": "anthropic", "base_url": stall.srv.URL}, http.StatusCreated)
	h.route("claude-*", "a")
	// The gateway gives up on the provider after countTimeout (4 s); the
	// client's own bound is far beyond it, so a loaded machine cannot fail
	// the test, and a gateway that waited on the provider for ever still does.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := h.request(http.MethodPost, "/v1/messages/count_tokens", []byte(`{"model":"claude-x","messages":[{"role":"user","content":"hi"}]}`))
	req = req.WithContext(ctx)
	start := time.Now()
	resp, body := h.do(req)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"estimated":true`) {
		t.Fatalf("after %v: status %d %s, want the flagged estimate", time.Since(start), resp.StatusCode, body)
	}
}

// The provider's own error message goes into the request log's error
// column and the access log line, though failureAttrs takes care to keep it
// out of the log because it "may quote the client's prompt".
func TestRequestLog_NoProviderMessages(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, reply(http.StatusBadRequest, `{"error":{"message":"content policy violation in: 'SECRET-PROMPT-TEXT'","type":"invalid_request_error"}}`))
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	h.post("/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"SECRET-PROMPT-TEXT"}]}`)
	h.settle()
	b := h.mustAdmin(http.MethodGet, "/api/requests", nil, http.StatusOK)
	if strings.Contains(string(b), "SECRET-PROMPT-TEXT") {
		t.Errorf("/api/requests carries the prompt: %s", b)
	}
	if strings.Contains(h.logs.String(), "SECRET-PROMPT-TEXT") {
		t.Errorf("the log carries the prompt")
	}
}

// The half-open probe's verdict is recorded only when attempt() returns,
// i.e. after the whole stream has been relayed. A probe that streams for
// minutes keeps the backend "probing" and every other request refused with
// 503 "cooling down" that long, though the backend answered at once.
func TestCooldown_ProbeSucceedsAtCommit(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_retries": -1, "cooldown_failures": 1, "cooldown_seconds": 1})
	var healthy atomic.Bool
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			reply(http.StatusInternalServerError, upstreamError)(w, r)
			return
		}
		startSSE(w)
		for range 30 { // a 3 s generation
			writeEvent(w, chunk("tok"))
			time.Sleep(100 * time.Millisecond)
		}
		writeEvent(w, done)
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	h.post("/v1/chat/completions", chatBody) // opens the cooldown
	healthy.Store(true)
	time.Sleep(1100 * time.Millisecond)
	// The probe: a long stream. Read its first event, then keep it open.
	resp, err := h.client.Do(h.request(http.MethodPost, "/v1/chat/completions", []byte(streamBody)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if !strings.Contains(line, "tok") {
		t.Fatalf("probe: %d %q", resp.StatusCode, line)
	}
	// The backend is demonstrably healthy now; another request must get in.
	r2, b2 := h.post("/v1/chat/completions", streamBody)
	t.Logf("second request while the probe streams: %d %s; status: %v", r2.StatusCode, b2[:min(len(b2), 160)], h.cooldowns())
	if r2.StatusCode != http.StatusOK {
		t.Errorf("backend answered the probe, yet the next request is refused")
	}
}

func TestAPIKeys_NoBypassByPath(t *testing.T) {
	h := newHarness(t)
	h.mustAdmin(http.MethodPost, "/api/keys", map[string]any{"name": "k"}, http.StatusCreated)
	h.settings(map[string]any{"require_api_keys": true})
	up := newFake(t, okChat("LEAKED"))
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	addr := strings.TrimPrefix(h.srv.URL, "http://")
	body := chatBody
	for _, target := range []string{"/v1/chat/completions", "//v1/chat/completions", "/./v1/chat/completions", "/x/../v1/chat/completions",
		"http://" + addr + "/v1/chat/completions", "/v1/chat/completions?", "/v1%2Fchat/completions", "/%761/chat/completions", "*"} {
		for _, m := range []string{"POST", "GET", "HEAD", "OPTIONS"} {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", m, target, addr, len(body), body)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Logf("%s %s: %v", m, target, err)
				c.Close()
				continue
			}
			var sb strings.Builder
			buf := make([]byte, 4096)
			n, _ := resp.Body.Read(buf)
			sb.Write(buf[:n])
			c.Close()
			t.Logf("%-7s %-45s %d %s", m, target, resp.StatusCode, strings.TrimSpace(sb.String())[:min(60, len(strings.TrimSpace(sb.String())))])
			if strings.Contains(sb.String(), "LEAKED") {
				t.Errorf("BYPASS: %s %s", m, target)
			}
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("provider reached %d times without a key", n)
	}
}

func TestFaults_NoLeaksAcrossAMix(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"stream_idle_timeout_seconds": 1, "first_byte_timeout_seconds": 1, "retry_backoff_ms": 1, "max_retries": 1, "cooldown_failures": -1})
	silent := newFake(t, func(w http.ResponseWriter, r *http.Request) { startSSE(w); <-r.Context().Done() })
	stall := newFake(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	bad := newFake(t, reply(500, upstreamError))
	good := newFake(t, sse(chunk("x"), done))
	h.putProvider("silent", silent.baseURL(), "")
	h.putProvider("stall", stall.baseURL(), "")
	h.putProvider("bad", bad.baseURL(), "")
	h.putProvider("good", good.baseURL(), "")
	h.route("m", "bad", "silent", "stall", "good")
	run := func() {
		h.post("/v1/chat/completions", streamBody)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		req := h.request(http.MethodPost, "/v1/chat/completions", []byte(streamBody)).WithContext(ctx)
		if resp, err := h.client.Do(req); err == nil {
			resp.Body.Close()
		}
		cancel()
	}
	run()
	h.settle()
	h.client.CloseIdleConnections()
	time.Sleep(300 * time.Millisecond)
	before := runtime.NumGoroutine()
	for range 5 {
		run()
	}
	h.settle()
	h.client.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	after := runtime.NumGoroutine()
	t.Logf("goroutines before %d after %d", before, after)
	if after > before+4 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("leak: %s", buf[:n])
	}
}
