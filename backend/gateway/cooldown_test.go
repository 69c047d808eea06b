package gateway_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// modelOf is the model a fake provider was asked for.
func modelOf(r *http.Request) string {
	var b struct {
		Model string `json:"model"`
	}
	json.NewDecoder(r.Body).Decode(&b)
	return b.Model
}

// chatFor is a chat request for model.
func chatFor(model string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"x"}]}`
}

// A model that keeps failing cools down alone: the provider's other models
// go on answering at once (the audit found every model of the provider
// answering 503 "cooling down" for 30 s after one model's failure).
func TestCooldown_ModelFailureSparesOtherModels(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"cooldown_failures": 1, "cooldown_seconds": 60})
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if modelOf(r) == "org/bad" {
			reply(http.StatusServiceUnavailable, upstreamError)(w, r)
			return
		}
		okChat("fine")(w, r)
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("*", "p") // no fallback
	if resp, _ := h.post("/v1/chat/completions", chatFor("org/bad")); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("failing model: status %d, want the provider's 503", resp.StatusCode)
	}
	for _, m := range []string{"good", "other"} {
		resp, body := h.post("/v1/chat/completions", chatFor(m))
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("fine")) {
			t.Errorf("model %s after another model failed: status %d body %s", m, resp.StatusCode, body)
		}
	}
	cd := h.cooldowns()
	if cd["p/org/bad"] != "cooldown" || len(cd) != 1 {
		t.Errorf("cooldowns %v, want only p/org/bad in cooldown", cd)
	}
}

// closingListener accepts connections and closes them at once, before any
// response: a transport failure. It counts the connections.
func closingListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), accepted
}

// A provider that cannot be reached cools down as a whole: every model
// routed to it goes to the fallback without another connection attempt.
func TestCooldown_TransportFailureCoolsTheProvider(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"cooldown_failures": 1, "cooldown_seconds": 60, "max_retries": 1})
	addr, accepted := closingListener(t)
	fallback := newFake(t, okChat("from fallback"))
	h.putProvider("p", "http://"+addr+"/v1", "")
	h.putProvider("f", fallback.baseURL(), "")
	h.route("a", "p", "f")
	h.route("b", "p", "f")
	resp, body := h.post("/v1/chat/completions", chatFor("a"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Fallback-From") != "p" {
		t.Fatalf("a: status %d, fallback-from %q, body %s", resp.StatusCode, resp.Header.Get("X-Modelbar-Fallback-From"), body)
	}
	tried := accepted.Load()
	if tried == 0 {
		t.Fatal("p was never tried")
	}
	if st := h.cooldowns()["p"]; st != "cooldown" {
		t.Errorf("p's state %q, want cooldown (scope provider); all: %v", st, h.cooldowns())
	}
	resp, body = h.post("/v1/chat/completions", chatFor("b"))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("from fallback")) {
		t.Fatalf("b: status %d body %s", resp.StatusCode, body)
	}
	if n := accepted.Load(); n != tried {
		t.Errorf("p got %d more connections for another model while cooling down", n-tried)
	}
}

// One request's retries are one failure: three attempts do not open a
// cooldown that needs two failed requests.
func TestCooldown_RetriesCountOnce(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_retries": 2, "retry_backoff_ms": 1, "cooldown_failures": 2, "cooldown_seconds": 60})
	up := newFake(t, reply(http.StatusInternalServerError, upstreamError))
	fallback := newFake(t, okChat("from fallback"))
	h.putProvider("p", up.baseURL(), "")
	h.putProvider("f", fallback.baseURL(), "")
	h.route("m", "p", "f")
	h.post("/v1/chat/completions", chatBody)
	if n := len(up.requests()); n != 3 {
		t.Fatalf("p called %d times, want 3 (two retries)", n)
	}
	var st struct {
		Cooldowns []map[string]any `json:"cooldowns"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/status", nil, http.StatusOK), &st)
	if len(st.Cooldowns) != 1 || st.Cooldowns[0]["state"] != "failing" || st.Cooldowns[0]["consecutive_failures"] != 1.0 ||
		st.Cooldowns[0]["scope"] != "model" || st.Cooldowns[0]["model"] != "m" {
		t.Fatalf("cooldowns %v, want p/m failing once (scope model)", st.Cooldowns)
	}
	h.post("/v1/chat/completions", chatBody)
	if s := h.cooldowns()["p/m"]; s != "cooldown" {
		t.Errorf("after a second failed request: %q, want cooldown", s)
	}
}

// The last candidate of a chain is always tried, cooling down or not: a
// route without a fallback never answers "cooling down" for a backend it
// did not call.
func TestCooldown_LastCandidateAlwaysTried(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_retries": -1, "cooldown_failures": 1, "cooldown_seconds": 60})
	p := newFake(t, reply(http.StatusBadGateway, upstreamError))
	f := newFake(t, reply(http.StatusBadGateway, upstreamError))
	h.putProvider("p", p.baseURL(), "")
	h.putProvider("f", f.baseURL(), "")
	h.route("solo", "p")
	h.route("chain", "p", "f")
	for i := range 3 {
		resp, body := h.post("/v1/chat/completions", chatFor("solo"))
		if resp.StatusCode != http.StatusBadGateway || strings.Contains(string(body), "cooling down") {
			t.Fatalf("solo request %d: status %d body %s, want the provider's own failure", i, resp.StatusCode, body)
		}
	}
	if n := len(p.requests()); n != 3 {
		t.Errorf("solo: p called %d times, want 3 (always tried)", n)
	}
	h.post("/v1/chat/completions", chatFor("chain")) // both fail: both cool down
	before := len(p.requests())
	resp, body := h.post("/v1/chat/completions", chatFor("chain"))
	if len(p.requests()) != before {
		t.Errorf("chain: p was tried while cooling down with a candidate after it")
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("chain: f, the last candidate, called %d times, want 2", n)
	}
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Modelbar-Backend") != "f" {
		t.Errorf("chain: status %d backend %q body %s, want f's failure", resp.StatusCode, resp.Header.Get("X-Modelbar-Backend"), body)
	}
}

// DELETE /api/cooldowns/{provider}[/{model}] ends cooldowns by hand.
func TestCooldowns_EndedByHand(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_retries": -1, "cooldown_failures": 1, "cooldown_seconds": 600})
	up := newFake(t, reply(http.StatusServiceUnavailable, upstreamError))
	h.putProvider("p", up.baseURL(), "")
	h.route("*", "p")
	for _, m := range []string{"org/a", "b"} {
		h.post("/v1/chat/completions", chatFor(m))
	}
	if cd := h.cooldowns(); cd["p/org/a"] != "cooldown" || cd["p/b"] != "cooldown" {
		t.Fatalf("cooldowns %v", cd)
	}
	h.mustAdmin(http.MethodDelete, "/api/cooldowns/p/org/a", nil, http.StatusNoContent)
	if cd := h.cooldowns(); cd["p/org/a"] != "" || cd["p/b"] != "cooldown" {
		t.Errorf("after ending p/org/a: %v", cd)
	}
	h.mustAdmin(http.MethodDelete, "/api/cooldowns/p/org/a", nil, http.StatusNotFound)
	h.mustAdmin(http.MethodDelete, "/api/cooldowns/p", nil, http.StatusNoContent)
	if cd := h.cooldowns(); len(cd) != 0 {
		t.Errorf("after ending p: %v", cd)
	}
	var list []map[string]any
	decode(t, h.mustAdmin(http.MethodGet, "/api/cooldowns", nil, http.StatusOK), &list)
	if len(list) != 0 {
		t.Errorf("GET /api/cooldowns = %v, want []", list)
	}
}
