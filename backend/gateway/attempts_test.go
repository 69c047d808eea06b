package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/modelbar/modelbar/backend/config"
)

// attemptData is an attempts event's payload as a client reads it.
type attemptData struct {
	ClientRequestID string `json:"client_request_id"`
	Backend         string `json:"backend"`
	Model           string `json:"model"`
	Status          int    `json:"status"`
	Reason          string `json:"reason"`
	Action          string `json:"action"`
	Next            string `json:"next"`
	DelayMS         int64  `json:"delay_ms"`
}

// nextAttempt reads events until an attempts one and returns its payload.
func (es *eventStream) nextAttempt() attemptData {
	es.t.Helper()
	for {
		ev := es.next()
		if ev.Topic != "attempts" {
			continue
		}
		var a attemptData
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			es.t.Fatalf("attempts data %s: %v", ev.Data, err)
		}
		return a
	}
}

// failFirst answers 429 to its first call and OK after.
func failFirst() http.HandlerFunc {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			reply(http.StatusTooManyRequests, `{"error":{"message":"slow down, your prompt was: secret words","type":"rate_limit"}}`)(w, r)
			return
		}
		okChat("fine")(w, r)
	}
}

func TestAttempts_RetryFailoverAndGiveUpArePublished(t *testing.T) {
	h := newHarness(t)
	one := int64(1)
	if _, err := h.cfg.PutSettings(t.Context(), config.SettingsInput{MaxRetries: &one}); err != nil {
		t.Fatal(err)
	}
	acme := newFake(t, failFirst())
	down := newFake(t, reply(http.StatusServiceUnavailable, `{"error":{"message":"down"}}`))
	backup := newFake(t, okChat("from backup"))
	h.putProvider("acme", acme.baseURL(), "")
	h.putProvider("down", down.baseURL(), "")
	h.putProvider("backup", backup.baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "busy", "backend": "acme", "backend_model": "acme-1", "fallbacks": []string{}})
	h.route("flaky", "down", "backup")
	h.route("broken", "down")
	es := h.openEvents(t, "?topics=attempts")
	ignoreDelay := cmpopts.IgnoreFields(attemptData{}, "DelayMS")

	send := func(model, id string, want int) {
		t.Helper()
		headers := []string{}
		if id != "" {
			headers = append(headers, "X-Modelbar-Client-Request", id)
		}
		resp, b := h.post("/v1/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`, headers...)
		if resp.StatusCode != want {
			t.Fatalf("%s: status %d, want %d: %s", model, resp.StatusCode, want, b)
		}
	}

	t.Run("429 then OK: one retry", func(t *testing.T) {
		send("busy", "chat-1", http.StatusOK)
		got := es.nextAttempt()
		want := attemptData{ClientRequestID: "chat-1", Backend: "acme", Model: "acme-1", Status: 429, Reason: "HTTP 429", Action: "retry", Next: "acme"}
		if diff := cmp.Diff(want, got, ignoreDelay); diff != "" {
			t.Errorf("attempt (-want +got):\n%s", diff)
		}
		if got.DelayMS < 0 || got.DelayMS > 50 {
			t.Errorf("delay_ms = %d, want within the backoff (at most 50)", got.DelayMS)
		}
		for i, r := range acme.requests() {
			if v := r.Header.Get("X-Modelbar-Client-Request"); v != "" {
				t.Errorf("request %d to the provider carried X-Modelbar-Client-Request %q", i, v)
			}
		}
	})

	t.Run("failing then backup: retry, then failover", func(t *testing.T) {
		send("flaky", "chat-2", http.StatusOK)
		want := []attemptData{
			{ClientRequestID: "chat-2", Backend: "down", Model: "flaky", Status: 503, Reason: "HTTP 503", Action: "retry", Next: "down"},
			{ClientRequestID: "chat-2", Backend: "down", Model: "flaky", Status: 503, Reason: "HTTP 503", Action: "failover", Next: "backup"},
		}
		got := []attemptData{es.nextAttempt(), es.nextAttempt()}
		if diff := cmp.Diff(want, got, ignoreDelay); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}
		if got[1].DelayMS != 0 {
			t.Errorf("a failover's delay_ms = %d, want 0", got[1].DelayMS)
		}
	})

	t.Run("the last backend failing: give up; no id without the header", func(t *testing.T) {
		send("broken", "", http.StatusServiceUnavailable)
		want := []attemptData{
			{Backend: "down", Model: "broken", Status: 503, Reason: "HTTP 503", Action: "retry", Next: "down"},
			{Backend: "down", Model: "broken", Status: 503, Reason: "HTTP 503", Action: "give_up"},
		}
		got := []attemptData{es.nextAttempt(), es.nextAttempt()}
		if diff := cmp.Diff(want, got, ignoreDelay); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}
	})

	t.Run("the Anthropic Messages endpoint, translated, publishes the same", func(t *testing.T) {
		busy := newFake(t, failFirst())
		h.putProvider("busy2", busy.baseURL(), "")
		h.route("claude-busy", "busy2")
		resp, b := h.post("/v1/messages", `{"model":"claude-busy","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
			"X-Modelbar-Client-Request", "chat-3", "anthropic-version", "2023-06-01")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		want := attemptData{ClientRequestID: "chat-3", Backend: "busy2", Model: "claude-busy", Status: 429, Reason: "HTTP 429", Action: "retry", Next: "busy2"}
		if diff := cmp.Diff(want, es.nextAttempt(), ignoreDelay); diff != "" {
			t.Errorf("attempt (-want +got):\n%s", diff)
		}
		for i, r := range busy.requests() {
			for k := range r.Header {
				if strings.HasPrefix(strings.ToLower(k), "x-modelbar-") {
					t.Errorf("request %d to the provider carried %s", i, k)
				}
			}
		}
	})

	t.Run("a refused connection: no status, the request log's reason", func(t *testing.T) {
		h.putProvider("gone", deadURL(t), "")
		h.route("unreachable", "gone", "backup")
		send("unreachable", "chat-4", http.StatusOK)
		var a attemptData
		for a = es.nextAttempt(); a.Action != "failover"; a = es.nextAttempt() {
		}
		if a.ClientRequestID != "chat-4" || a.Backend != "gone" || a.Status != 0 || a.Next != "backup" || !strings.HasPrefix(a.Reason, "Nothing is listening on 127.0.0.1:") {
			t.Errorf("attempt %+v", a)
		}
	})

	t.Run("an id that is not a plain token is dropped", func(t *testing.T) {
		send("flaky", "<script>", http.StatusOK)
		if a := es.nextAttempt(); a.ClientRequestID != "" {
			t.Errorf("client_request_id = %q, want empty", a.ClientRequestID)
		}
		es.nextAttempt() // its failover
	})
}
