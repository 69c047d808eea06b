package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/gateway"
)

const anthropicBody = `{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`

// Claude Code acts on Anthropic's 529 overloaded_error (it switches to its
// fallback model): a relayed Anthropic error keeps its status and body.
func TestMessages_RelaysAnthropicOverloaded(t *testing.T) {
	h := newHarness(t)
	const overloaded = `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}`
	anth := newFake(t, reply(529, overloaded))
	h.putAnthropicProvider("anth", anth.srv.URL, "")
	h.route("claude-*", "anth")
	resp, got := h.post("/v1/messages", anthropicBody)
	if resp.StatusCode != 529 || string(got) != overloaded {
		t.Errorf("got %d %s, want 529 and the provider's body", resp.StatusCode, got)
	}
}

// A fallback that cannot take the request (a document cannot be translated
// for an OpenAI backend) must not hide the primary's retryable failure.
func TestFailover_UntranslatableFallbackKeepsThePrimaryError(t *testing.T) {
	h := newHarness(t)
	anth := newFake(t, reply(529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	oa := newFake(t, okChat("hi"))
	h.putAnthropicProvider("anth", anth.srv.URL, "")
	h.putProvider("oa", oa.baseURL(), "")
	h.route("claude-*", "anth", "oa")
	body := `{"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":[` +
		`{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}`
	resp, got := h.post("/v1/messages", body)
	if resp.StatusCode != 529 {
		t.Fatalf("got %d %s, want the primary's 529", resp.StatusCode, got)
	}
	if b := resp.Header.Get("X-Modelbar-Backend"); b != "anth" {
		t.Errorf("X-Modelbar-Backend = %q, want anth", b)
	}
	if n := len(oa.requests()); n != 0 {
		t.Errorf("the OpenAI fallback received %d requests", n)
	}
}

// A reasoning model opens its stream (role chunk) and may think for longer
// than the first-byte deadline before any content: once the backend has
// started answering, the deadline no longer applies, translated or not.
func TestTranslatedStream_SlowFirstContentIsNotATimeout(t *testing.T) {
	h := newHarness(t, func(o *gateway.Options) { o.FirstByteTimeout = 150 * time.Millisecond })
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeEvent(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"o3","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`+"\n\n")
		select {
		case <-time.After(400 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		writeEvent(w, chunk("thought it through"))
		writeEvent(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"o3","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n")
		writeEvent(w, done)
	})
	h.putProvider("oa", up.baseURL(), "")
	h.route("claude-*", "oa")
	resp, got := h.post("/v1/messages", `{"model":"claude-x","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), "thought it through") || !strings.Contains(string(got), "message_stop") {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
}

// Claude Code asks for thinking on every turn; a model that does not reason
// refuses reasoning_effort, so it is sent only to reasoning models.
func TestTranslation_ReasoningEffortOnlyForReasoningModels(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, okChat("hi"))
	h.putProvider("oa", up.baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "plain", "backend": "oa", "backend_model": "gpt-4.1"})
	h.addRoute(map[string]any{"model_pattern": "reasoner", "backend": "oa", "backend_model": "o3"})
	for model, want := range map[string]bool{"plain": false, "reasoner": true} {
		body := `{"model":"` + model + `","max_tokens":8000,"thinking":{"type":"enabled","budget_tokens":4000},"messages":[{"role":"user","content":"hi"}]}`
		if resp, got := h.post("/v1/messages", body); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", model, resp.StatusCode, got)
		}
		reqs := up.requests()
		var sent map[string]json.RawMessage
		if err := json.Unmarshal(reqs[len(reqs)-1].Body, &sent); err != nil {
			t.Fatal(err)
		}
		if _, got := sent["reasoning_effort"]; got != want {
			t.Errorf("%s: reasoning_effort sent = %v, want %v (%s)", model, got, want, reqs[len(reqs)-1].Body)
		}
	}
}

// A client that asked to stream gets a stream even when the backend of its
// own API answered in one piece.
func TestPassThrough_StreamRequestAnsweredWhole(t *testing.T) {
	h := newHarness(t)
	h.putProvider("oa", newFake(t, okChat("in one piece")).baseURL(), "")
	h.route("m", "oa")
	resp, got := h.post("/v1/chat/completions", streamBody)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q: %s", ct, got)
	}
	if !strings.Contains(string(got), `"content":"in one piece"`) || !strings.HasSuffix(string(got), "data: [DONE]\n\n") {
		t.Errorf("stream %s", got)
	}
}

// count_tokens validates like Anthropic (messages are required) but still
// counts content only translation could not carry.
func TestCountTokens_Validates(t *testing.T) {
	h := newHarness(t)
	for body, want := range map[string]int{
		`{"model":"x"}`: http.StatusBadRequest,
		`{"model":"x","messages":[{"role":"user","content":"hello there"}]}`:                                                                                     http.StatusOK,
		`{"model":"x","messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"a long contract"}}]}]}`: http.StatusOK,
	} {
		resp, got := h.post("/v1/messages/count_tokens", body)
		if resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", body, resp.StatusCode, got, want)
		}
		if want == http.StatusBadRequest {
			mustAnthropicError(t, got)
		}
	}
}
