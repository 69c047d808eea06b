package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The admin API's api setting: "" or "responses", for OpenAI-API
// providers only; left out of a PUT it keeps its value.
func TestResponsesOnly_AdminSetting(t *testing.T) {
	h := newHarness(t)
	h.putProvider("oa", "http://127.0.0.1:1/v1", "")
	api := func(name string) string {
		var p struct{ API, Responses string }
		decode(t, h.mustAdmin(http.MethodGet, "/api/providers/"+name, nil, http.StatusOK), &p)
		return p.API + "/" + p.Responses
	}
	if got := api("oa"); got != "/auto" {
		t.Errorf("a new provider: api/responses = %q, want \"/auto\"", got)
	}
	h.mustAdmin(http.MethodPut, "/api/providers/oa", map[string]any{"api": "responses"}, http.StatusOK)
	h.mustAdmin(http.MethodPut, "/api/providers/oa", map[string]any{"responses": "no"}, http.StatusOK)
	if got := api("oa"); got != "responses/no" {
		t.Errorf("api/responses = %q, want responses/no", got)
	}
	for _, tc := range []struct {
		name string
		in   map[string]any
	}{
		{"oa", map[string]any{"api": "chat"}},
		{"anth", map[string]any{"type": "anthropic", "api": "responses"}},
	} {
		resp, body := h.admin(http.MethodPut, "/api/providers/"+tc.name, tc.in)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "api") {
			t.Errorf("PUT %s %v: status %d %s, want 400 naming api", tc.name, tc.in, resp.StatusCode, body)
		}
	}
	h.mustAdmin(http.MethodPut, "/api/providers/oa", map[string]any{"api": ""}, http.StatusOK)
	if got := api("oa"); got != "/no" {
		t.Errorf("api/responses = %q after api \"\", want /no", got)
	}
}

// responsesOnly starts a Responses-only provider "oa" answering with
// respond, routed for every model.
func responsesOnly(t *testing.T, respond http.HandlerFunc) (*harness, *fakeProvider) {
	h := newHarness(t)
	up := newFake(t, respond)
	h.putProvider("oa", up.baseURL(), "")
	h.mustAdmin(http.MethodPut, "/api/providers/oa", map[string]any{"api": "responses"}, http.StatusOK)
	h.route("*", "oa")
	return h, up
}

// An Anthropic client's thinking reaches a reasoning model as
// reasoning.effort; the model's reasoning comes back as a thinking block
// whose signature carries its encrypted_content, which the next turn
// gives back as a reasoning item.
func TestResponsesOnly_AnthropicThinkingRoundTrip(t *testing.T) {
	answer := mustJSON(responsesObject("o3-pro", "completed", []any{
		map[string]any{"id": "rs_1", "type": "reasoning", "summary": []any{map[string]any{"type": "summary_text", "text": "Mull it over"}}, "encrypted_content": "enc-1"},
		map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "content": []any{map[string]any{"type": "output_text", "text": "42"}}},
	}, wireUsage{10, 5}.responses(), nil))
	h, up := responsesOnly(t, reply(http.StatusOK, answer))
	resp, body := h.post("/v1/messages", `{"model":"o3-pro","max_tokens":4000,"thinking":{"type":"enabled","budget_tokens":2048},`+
		`"messages":[{"role":"user","content":"question"}]}`, "anthropic-version", "2023-06-01")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var msg struct {
		Content []struct{ Type, Thinking, Signature, Text string }
		Usage   struct{ InputTokens, OutputTokens int } `json:"usage"`
	}
	decode(t, body, &msg)
	if len(msg.Content) != 2 || msg.Content[0].Thinking != "Mull it over" || msg.Content[1].Text != "42" {
		t.Fatalf("answer %s", body)
	}
	var sent struct {
		Reasoning struct{ Effort, Summary string }
		Include   []string
		Store     *bool
	}
	got := up.only(t)
	decode(t, got.Body, &sent)
	if got.Path != "/v1/responses" || sent.Reasoning.Effort != "low" || sent.Reasoning.Summary != "auto" ||
		len(sent.Include) != 1 || sent.Store == nil || *sent.Store {
		t.Errorf("provider got %s %s", got.Path, got.Body)
	}
	sig, _ := json.Marshal(msg.Content[0].Signature)
	h.post("/v1/messages", `{"model":"o3-pro","max_tokens":4000,"thinking":{"type":"enabled","budget_tokens":2048},"messages":[`+
		`{"role":"user","content":"question"},`+
		`{"role":"assistant","content":[{"type":"thinking","thinking":"Mull it over","signature":`+string(sig)+`},{"type":"text","text":"42"}]},`+
		`{"role":"user","content":"and?"}]}`, "anthropic-version", "2023-06-01")
	var next struct {
		Input []struct {
			Type             string
			EncryptedContent string `json:"encrypted_content"`
		} `json:"input"`
	}
	decode(t, up.requests()[1].Body, &next)
	var types []string
	for _, it := range next.Input {
		types = append(types, it.Type)
	}
	if strings.Join(types, " ") != "message reasoning message message" || next.Input[1].EncryptedContent != "enc-1" {
		t.Errorf("second turn sent %s", up.requests()[1].Body)
	}
}

// What the Responses API has no counterpart of is named, and a provider
// that fails before the first byte is failed over like any other.
func TestResponsesOnly_DroppedAndFailover(t *testing.T) {
	h := newHarness(t)
	down := newFake(t, reply(http.StatusServiceUnavailable, `{"error":{"message":"overloaded"}}`))
	up := newFake(t, reply(http.StatusOK, mustJSON(responsesObject("gpt-5-pro", "completed", fakeAnswer{text: []string{"hi"}}.responsesOutput(), wireUsage{1, 1}.responses(), nil))))
	for name, f := range map[string]*fakeProvider{"down": down, "oa": up} {
		h.putProvider(name, f.baseURL(), "")
		h.mustAdmin(http.MethodPut, "/api/providers/"+name, map[string]any{"api": "responses"}, http.StatusOK)
	}
	h.route("gpt-5-pro", "down", "oa")
	resp, body := h.post("/v1/chat/completions", `{"model":"gpt-5-pro","messages":[{"role":"user","content":"hi"}],"stop":["x"],"seed":1}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"content":"hi"`) {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if b, d := resp.Header.Get("X-Modelbar-Backend"), resp.Header.Get("X-Modelbar-Dropped"); b != "oa" || d != "seed, stop" {
		t.Errorf("X-Modelbar-Backend %q, X-Modelbar-Dropped %q; want oa and \"seed, stop\"", b, d)
	}
	if p := down.requests()[0].Path; p != "/v1/responses" {
		t.Errorf("the first provider was sent %s", p)
	}
}

// A Responses stream that fails after its first content ends the
// client's stream with its own API's error event, after the content.
func TestResponsesOnly_MidStreamFailure(t *testing.T) {
	stream := fakeAnswer{text: textFragments}.responsesStream("gpt-5-pro")[:5]
	failed := responsesEvent("response.failed", map[string]any{"response": responsesObject("gpt-5-pro", "failed", []any{}, nil,
		map[string]any{"code": "server_error", "message": streamFailure})})
	h, _ := responsesOnly(t, sse(append(stream, failed)...))
	for _, tc := range []struct{ path, body, errorEvent, cleanEnd string }{
		{"/v1/chat/completions", `{"model":"gpt-5-pro","stream":true,"messages":[{"role":"user","content":"hi"}]}`, `"error":{`, `"finish_reason":"stop"`},
		{"/v1/messages", `{"model":"gpt-5-pro","stream":true,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, "event: error", "message_stop"},
	} {
		resp, body := h.post(tc.path, tc.body, "anthropic-version", "2023-06-01")
		s := string(body)
		first, fail := strings.Index(s, textFragments[0]), strings.Index(s, tc.errorEvent)
		if resp.StatusCode != http.StatusOK || first < 0 || fail < first || !strings.Contains(s[fail:], streamFailure) || strings.Contains(s, tc.cleanEnd) {
			t.Errorf("%s: status %d, stream:\n%s", tc.path, resp.StatusCode, s)
		}
	}
}

// A route's api "responses" says it of its own backend's model only: the
// provider's other routes, and the route's fallbacks, keep chat
// completions; a Responses client is relayed whatever the provider's
// responses setting says.
func TestResponsesOnly_RouteSetting(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/responses" {
			reply(http.StatusOK, mustJSON(responsesObject("o3-pro", "completed", fakeAnswer{text: []string{"via responses"}}.responsesOutput(), wireUsage{1, 1}.responses(), nil)))(w, r)
			return
		}
		okChat("via chat")(w, r)
	})
	h.putProvider("oa", up.baseURL(), "")
	h.mustAdmin(http.MethodPut, "/api/providers/oa", map[string]any{"responses": "no"}, http.StatusOK)
	rt := h.addRoute(map[string]any{"model_pattern": "o3-pro", "backend": "oa", "api": "responses"})
	if rt.API != "responses" {
		t.Errorf("route stored with api %q", rt.API)
	}
	h.route("gpt-4o", "oa")
	for _, tc := range []struct{ path, body, want string }{
		{"/v1/chat/completions", `{"model":"o3-pro","messages":[{"role":"user","content":"hi"}]}`, "via responses"},
		{"/v1/messages", `{"model":"o3-pro","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}`, "via responses"},
		{"/v1/responses", `{"model":"o3-pro","input":"hi"}`, "via responses"},
		{"/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, "via chat"},
	} {
		resp, body := h.post(tc.path, tc.body, "anthropic-version", "2023-06-01")
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s %s: status %d %s, want %q", tc.path, tc.body, resp.StatusCode, body, tc.want)
		}
	}
	resp, body := h.admin(http.MethodPost, "/api/routes", map[string]any{"model_pattern": "x", "backend": "oa", "api": "chat"})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "api") {
		t.Errorf("route with api chat: status %d %s, want 400 naming api", resp.StatusCode, body)
	}
}
