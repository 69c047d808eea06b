package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// settings changes the gateway's settings through the admin API.
func (h *harness) settings(in map[string]any) {
	h.t.Helper()
	h.mustAdmin(http.MethodPut, "/api/settings", in, http.StatusOK)
}

// fastRetries makes retries quick enough for tests.
var fastRetries = map[string]any{"retry_backoff_ms": 10, "retry_backoff_max_ms": 2000}

// script answers each request with the next handler of steps; the last one
// answers every request after it.
func script(steps ...http.HandlerFunc) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		i := min(int(n.Add(1))-1, len(steps)-1)
		steps[i](w, r)
	}
}

// cooldowns returns the breakers listed in /api/status by what they guard:
// "provider" for the whole provider, "provider/model" for a pair.
func (h *harness) cooldowns() map[string]string {
	h.t.Helper()
	var st struct {
		Cooldowns []struct {
			Provider string `json:"provider"`
			Model    string `json:"model"`
			State    string `json:"state"`
		} `json:"cooldowns"`
	}
	decode(h.t, h.mustAdmin(http.MethodGet, "/api/status", nil, http.StatusOK), &st)
	out := map[string]string{}
	for _, b := range st.Cooldowns {
		key := b.Provider
		if b.Model != "" {
			key += "/" + b.Model
		}
		out[key] = b.State
	}
	return out
}

// A provider that refuses for now (503, 429, 500, a reset connection) is
// retried after a backoff; the client sees one clean answer from it.
func TestRetry_SameBackendRecovers(t *testing.T) {
	for _, first := range []struct {
		name string
		fail http.HandlerFunc
	}{
		{"503", reply(http.StatusServiceUnavailable, upstreamError)},
		{"500", reply(http.StatusInternalServerError, upstreamError)},
		{"429 with a short Retry-After", reply(http.StatusTooManyRequests, upstreamError, "Retry-After", "1")},
		{"connection reset", func(http.ResponseWriter, *http.Request) { abort() }},
	} {
		t.Run(first.name, func(t *testing.T) {
			h := newHarness(t)
			h.settings(fastRetries)
			up := newFake(t, script(first.fail, okChat("second try")))
			h.putProvider("p", up.baseURL(), "")
			h.route("m", "p")
			start := time.Now()
			resp, body := h.post("/v1/chat/completions", chatBody)
			if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("second try")) {
				t.Fatalf("status %d, body %s", resp.StatusCode, body)
			}
			if n := len(up.requests()); n != 2 {
				t.Errorf("provider called %d times, want 2", n)
			}
			if got := resp.Header.Get("X-Modelbar-Fallback-From"); got != "" {
				t.Errorf("X-Modelbar-Fallback-From = %q after a retry of the same backend", got)
			}
			if strings.Contains(first.name, "Retry-After") && time.Since(start) < 900*time.Millisecond {
				t.Errorf("retried after %v, before the Retry-After of 1 s", time.Since(start))
			}
		})
	}
}

// Retries are bounded by max_retries, and -1 switches them off.
func TestRetry_Bounded(t *testing.T) {
	for _, c := range []struct {
		maxRetries int
		calls      int
	}{{0, 3}, {1, 2}, {-1, 1}, {4, 5}} {
		h := newHarness(t)
		h.settings(map[string]any{"retry_backoff_ms": 1, "max_retries": c.maxRetries, "cooldown_failures": -1})
		up := newFake(t, reply(http.StatusBadGateway, upstreamError))
		h.putProvider("p", up.baseURL(), "")
		h.route("m", "p")
		resp, _ := h.post("/v1/chat/completions", chatBody)
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("max_retries %d: status %d, want 502", c.maxRetries, resp.StatusCode)
		}
		if n := len(up.requests()); n != c.calls {
			t.Errorf("max_retries %d: provider called %d times, want %d", c.maxRetries, n, c.calls)
		}
	}
}

// A client error is the backend's answer: never retried, and it does not
// count towards a cooldown.
func TestRetry_NotForClientErrors(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"retry_backoff_ms": 1, "cooldown_failures": 1})
	up := newFake(t, reply(http.StatusBadRequest, upstreamError))
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	for range 3 {
		if resp, _ := h.post("/v1/chat/completions", chatBody); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want the provider's 400", resp.StatusCode)
		}
	}
	if n := len(up.requests()); n != 3 {
		t.Errorf("provider called %d times for 3 requests, want 3", n)
	}
	if cd := h.cooldowns(); len(cd) != 0 {
		t.Errorf("backends after client errors: %v, want none failing", cd)
	}
}

// A Retry-After longer than the backoff cap moves on at once and puts the
// provider in cooldown for that long: the next request skips it.
func TestRetry_LongRetryAfterCoolsDown(t *testing.T) {
	h := newHarness(t)
	h.settings(fastRetries)
	primary := newFake(t, reply(http.StatusTooManyRequests, upstreamError, "Retry-After", "60"))
	fallback := newFake(t, okChat("from fallback"))
	h.putProvider("primary", primary.baseURL(), "")
	h.putProvider("fallback", fallback.baseURL(), "")
	h.route("m", "primary", "fallback")
	for i := range 3 {
		resp, body := h.post("/v1/chat/completions", chatBody)
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("from fallback")) {
			t.Fatalf("request %d: status %d, body %s", i, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Modelbar-Fallback-From"); got != "primary" {
			t.Errorf("request %d: X-Modelbar-Fallback-From = %q, want primary", i, got)
		}
	}
	if n := len(primary.requests()); n != 1 {
		t.Errorf("primary called %d times, want once (then skipped while cooling down)", n)
	}
	if st := h.cooldowns()["primary/m"]; st != "cooldown" {
		t.Errorf("primary's state %q, want cooldown", st)
	}
}

// The circuit breaker: repeated failures open a cooldown; while it lasts
// the pair is skipped for the route's fallback and a request names the
// cooldown in Retry-After when nothing else answers; then one request
// probes it and a success restores it.
func TestCooldown_OpensProbesRestores(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_retries": -1, "cooldown_failures": 2, "cooldown_seconds": 1})
	var healthy atomic.Bool
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if healthy.Load() {
			okChat("healthy again")(w, r)
			return
		}
		reply(http.StatusInternalServerError, upstreamError)(w, r)
	})
	fallback := newFake(t, okChat("from fallback"))
	h.putProvider("p", up.baseURL(), "")
	h.putProvider("f", fallback.baseURL(), "")
	h.route("m", "p", "f")
	for range 2 {
		if resp, body := h.post("/v1/chat/completions", chatBody); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("from fallback")) {
			t.Fatalf("status %d body %s, want the fallback's answer while p fails", resp.StatusCode, body)
		}
	}
	resp, body := h.post("/v1/chat/completions", chatBody)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Fallback-From") != "p" {
		t.Fatalf("in cooldown: status %d, fallback-from %q, body %s; want the fallback, p skipped", resp.StatusCode, resp.Header.Get("X-Modelbar-Fallback-From"), body)
	}
	if n := len(up.requests()); n != 2 {
		t.Fatalf("provider called %d times, want 2 (skipped in cooldown)", n)
	}
	if st := h.cooldowns()["p/m"]; st != "cooldown" {
		t.Errorf("state %q, want cooldown", st)
	}
	healthy.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body = h.post("/v1/chat/completions", chatBody)
		if bytes.Contains(body, []byte("healthy again")) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !bytes.Contains(body, []byte("healthy again")) {
		t.Fatalf("after the cooldown: status %d, body %s", resp.StatusCode, body)
	}
	if cd := h.cooldowns(); len(cd) != 0 {
		t.Errorf("backends after a successful probe: %v, want none", cd)
	}
}

// A failed probe starts another cooldown at once.
func TestCooldown_FailedProbeReopens(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_retries": -1, "cooldown_failures": 3, "cooldown_seconds": 1})
	up := newFake(t, reply(http.StatusBadGateway, upstreamError))
	fallback := newFake(t, okChat("from fallback"))
	h.putProvider("p", up.baseURL(), "")
	h.putProvider("f", fallback.baseURL(), "")
	h.route("m", "p", "f")
	for range 3 {
		h.post("/v1/chat/completions", chatBody)
	}
	time.Sleep(1100 * time.Millisecond)
	h.post("/v1/chat/completions", chatBody) // the probe, failing
	if n := len(up.requests()); n != 4 {
		t.Fatalf("provider called %d times, want 4 (3 failures, 1 probe)", n)
	}
	h.post("/v1/chat/completions", chatBody)
	if n := len(up.requests()); n != 4 {
		t.Errorf("provider called %d times after a failed probe, want still 4 (cooling down again)", n)
	}
	if st := h.cooldowns()["p/m"]; st != "cooldown" {
		t.Errorf("state %q, want cooldown", st)
	}
}

// Model listings and count_tokens never open a cooldown, however often
// they fail.
func TestCooldown_NotFromCountTokensOrListings(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"cooldown_failures": 1})
	up := newFake(t, reply(http.StatusInternalServerError, upstreamError))
	h.mustAdmin(http.MethodPut, "/api/providers/a", map[string]any{"type": "anthropic", "base_url": up.srv.URL}, http.StatusCreated)
	h.route("claude-*", "a")
	for range 3 {
		h.post("/v1/messages/count_tokens", `{"model":"claude-x","messages":[{"role":"user","content":"hi"}]}`)
		// The connection test lists the provider's models (a failing listing).
		if resp, body := h.admin(http.MethodPost, "/api/providers/a/test", nil); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ok":false`) {
			t.Fatalf("provider test: %d %s, want a failed listing", resp.StatusCode, body)
		}
	}
	if n := len(up.requests()); n != 6 {
		t.Errorf("provider called %d times, want 6 (3 counts, 3 listings), all failing", n)
	}
	if cd := h.cooldowns(); len(cd) != 0 {
		t.Errorf("backends after failing count_tokens and listings: %v, want none", cd)
	}
}

// A failure after the first byte is never retried: the client already holds
// part of the answer.
func TestRetry_NeverAfterFirstByte(t *testing.T) {
	h := newHarness(t)
	h.settings(fastRetries)
	up := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
		startSSE(w)
		writeEvent(w, chunk("partial"))
		abort()
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	resp, body := h.post("/v1/chat/completions", streamBody)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("partial")) || !bytes.Contains(body, []byte(`"error"`)) {
		t.Fatalf("status %d, body %s: want the partial stream and an error event", resp.StatusCode, body)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("provider called %d times, want 1", n)
	}
}

// The request timeout bounds retries and failovers together.
func TestRequestTimeout_BoundsTheWholeWalk(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"request_timeout_seconds": 1, "first_byte_timeout_seconds": 30})
	stall := newFake(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	h.putProvider("p", stall.baseURL(), "")
	h.route("m", "p")
	resp, body := h.post("/v1/chat/completions", chatBody)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d, body %s; want 504", resp.StatusCode, body)
	}
	if e := mustOpenAIError(t, body); deref(e.Code) != "timeout" {
		t.Errorf("code %q, want timeout", deref(e.Code))
	}
}

// A stream whose backend goes silent is ended with an error event after
// the idle timeout, and the upstream request is cancelled.
func TestStreamIdle_EndsSilentStream(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"stream_idle_timeout_seconds": 1})
	upstreamGone := make(chan struct{})
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeEvent(w, chunk("then silence"))
		<-r.Context().Done()
		close(upstreamGone)
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	resp, body := h.post("/v1/chat/completions", streamBody)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("then silence")) {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	if !bytes.Contains(body, []byte("sent nothing for too long")) || bytes.Contains(body, []byte("[DONE]")) {
		t.Errorf("stream %s: want an idle error event and no [DONE]", body)
	}
	select {
	case <-upstreamGone:
	case <-time.After(5 * time.Second):
		t.Error("the upstream request was not cancelled")
	}
}

// A client that leaves mid-stream cancels the upstream request, and
// nothing is left running: no goroutine and no connection leaks.
func TestClientDisconnect_CancelsUpstreamNoLeaks(t *testing.T) {
	h := newHarness(t)
	upstreamGone := make(chan struct{}, 16)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		for i := 0; ; i++ {
			select {
			case <-r.Context().Done():
				upstreamGone <- struct{}{}
				return
			case <-time.After(10 * time.Millisecond):
				writeEvent(w, chunk("tick"))
			}
		}
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	before := stableGoroutines()
	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		req := h.request(http.MethodPost, "/v1/chat/completions", []byte(streamBody)).WithContext(ctx)
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		if _, err := io.ReadAtLeast(resp.Body, buf, 10); err != nil {
			t.Fatal(err)
		}
		cancel()
		resp.Body.Close()
		select {
		case <-upstreamGone:
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream request was not cancelled after the client left")
		}
	}
	h.settle()
	h.client.CloseIdleConnections()
	up.srv.CloseClientConnections()
	if after := stableGoroutines(); after > before+2 {
		t.Errorf("%d goroutines before, %d after 5 abandoned streams: a leak", before, after)
	}
}

// stableGoroutines waits for the goroutine count to settle and returns it.
func stableGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// The status lists a failing provider before its cooldown opens.
func TestStatus_ListsFailingProviders(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_retries": -1, "cooldown_failures": 5})
	up := newFake(t, reply(http.StatusBadGateway, upstreamError))
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	h.post("/v1/chat/completions", chatBody)
	var st struct {
		Backends []map[string]any `json:"backends"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/status", nil, http.StatusOK), &st)
	if len(st.Backends) != 1 || st.Backends[0]["state"] != "failing" || st.Backends[0]["consecutive_failures"] != 1.0 {
		b, _ := json.Marshal(st.Backends)
		t.Errorf("backends %s, want p failing once", b)
	}
}
