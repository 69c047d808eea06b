package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// anthropicError is Anthropic's error body.
type anthropicError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func mustAnthropicError(t *testing.T, b []byte) anthropicError {
	t.Helper()
	var e anthropicError
	if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error.Type == "" || e.Error.Message == "" {
		t.Fatalf("not an Anthropic error body (%v): %s", err, b)
	}
	return e
}

const anthropicOK = `{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"read it"}],` +
	`"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2}}`

// /v1/messages checks only the envelope before routing and answers in
// Anthropic's error shape; what only a translation cannot carry (a
// document, a role it does not know) reaches an Anthropic provider
// untouched and is refused (naming the field) only where it would need
// translating.
func TestMessages_ValidationAndUntranslatableContent(t *testing.T) {
	h := newHarness(t)
	anth := newFake(t, reply(http.StatusOK, anthropicOK))
	oa := newFake(t, okChat("hi"))
	h.putAnthropicProvider("anth", anth.srv.URL, "sk-ant-000000")
	h.putProvider("oa", oa.baseURL(), "")
	h.route("claude-*", "anth")
	h.route("gpt-*", "oa")

	const document = `{"type":"document","source":{"type":"text","media_type":"text/plain","data":"a contract"}}`
	body := func(model, content string) string {
		return `{"model":"` + model + `","max_tokens":100,"messages":[{"role":"user","content":[` + content + `]}]}`
	}
	tests := []struct {
		name      string
		body      string
		status    int
		errType   string
		upstream  *fakeProvider
		wantCalls int
	}{
		{"document to Anthropic", body("claude-x", document), http.StatusOK, "", anth, 1},
		{"document to OpenAI", body("gpt-x", document), http.StatusBadRequest, "invalid_request_error", oa, 0},
		// Relayed: the provider judges what is valid (the fake takes all).
		{"missing max_tokens to Anthropic", `{"model":"claude-x","messages":[{"role":"user","content":"hi"}]}`, http.StatusOK, "", anth, 1},
		{"unknown role to Anthropic", `{"model":"claude-x","max_tokens":5,"messages":[{"role":"critic","content":"hi"}]}`, http.StatusOK, "", anth, 1},
		// Translated: what cannot be translated is refused before a call.
		{"missing max_tokens to OpenAI", `{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}`, http.StatusBadRequest, "invalid_request_error", oa, 0},
		{"unknown role to OpenAI", `{"model":"gpt-x","max_tokens":5,"messages":[{"role":"critic","content":"hi"}]}`, http.StatusBadRequest, "invalid_request_error", oa, 0},
		{"messages not an array", `{"model":"claude-x","max_tokens":5,"messages":{"role":"user"}}`, http.StatusBadRequest, "invalid_request_error", anth, 0},
		{"unknown model", body("nobody", `{"type":"text","text":"hi"}`), http.StatusNotFound, "not_found_error", anth, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.upstream.requests())
			resp, got := h.post("/v1/messages", tt.body, "anthropic-version", "2023-06-01")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, got)
			}
			if tt.errType != "" {
				if e := mustAnthropicError(t, got); e.Error.Type != tt.errType {
					t.Errorf("error type %q, want %q", e.Error.Type, tt.errType)
				}
			}
			if n := len(tt.upstream.requests()) - before; n != tt.wantCalls {
				t.Errorf("upstream got %d requests, want %d", n, tt.wantCalls)
			}
		})
	}
	if got := anth.requests()[0].Body; !bytes.Contains(got, []byte(`"document"`)) {
		t.Errorf("the document did not reach the Anthropic provider untouched: %s", got)
	}
}
