package gateway_test

import (
	"net/http"
	"strings"
	"testing"
)

// Every error the gateway makes itself is an OpenAI error body with a status
// that fits, and nothing reaches a provider (but the request for its model
// list that a model lookup starts).
func TestErrors_ShapeAndStatus(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		path      string
		body      string // "" sends none
		status    int
		param     string
		code      string
		wantAllow string
	}{
		{"malformed JSON", "POST", "/v1/chat/completions", `{"model":`, 400, "", "", ""},
		{"trailing data", "POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]} {}`, 400, "", "", ""},
		{"not an object", "POST", "/v1/chat/completions", `[1,2]`, 400, "", "", ""},
		{"empty body", "POST", "/v1/chat/completions", ` `, 400, "", "", ""},
		{"missing model", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, 400, "model", "", ""},
		{"null model", "POST", "/v1/chat/completions", `{"model":null,"messages":[{"role":"user","content":"x"}]}`, 400, "model", "", ""},
		{"model not a string", "POST", "/v1/chat/completions", `{"model":7,"messages":[{"role":"user","content":"x"}]}`, 400, "model", "", ""},
		{"empty model", "POST", "/v1/chat/completions", `{"model":"","messages":[{"role":"user","content":"x"}]}`, 400, "model", "", ""},
		{"missing messages", "POST", "/v1/chat/completions", `{"model":"m"}`, 400, "messages", "", ""},
		{"empty messages", "POST", "/v1/chat/completions", `{"model":"m","messages":[]}`, 400, "messages", "", ""},
		{"messages not an array", "POST", "/v1/chat/completions", `{"model":"m","messages":"hi"}`, 400, "messages", "", ""},
		{"stream not a bool", "POST", "/v1/chat/completions", `{"model":"m","stream":"yes","messages":[{"role":"user","content":"x"}]}`, 400, "stream", "", ""},
		{"missing prompt", "POST", "/v1/completions", `{"model":"m"}`, 400, "prompt", "", ""},
		{"missing input", "POST", "/v1/embeddings", `{"model":"m"}`, 400, "input", "", ""},
		{"unknown model", "POST", "/v1/chat/completions", `{"model":"nobody-serves-this","messages":[{"role":"user","content":"x"}]}`, 404, "model", "model_not_found", ""},
		{"unknown model by id", "GET", "/v1/models/nobody-serves-this", "", 404, "model", "model_not_found", ""},
		{"unknown URL under /v1", "GET", "/v1/nope", "", 404, "", "unknown_url", ""},
		{"unknown URL", "POST", "/nope", "{}", 404, "", "unknown_url", ""},
		{"trailing slash", "POST", "/v1/chat/completions/", "{}", 404, "", "unknown_url", ""},
		{"GET on a POST endpoint", "GET", "/v1/chat/completions", "", 405, "", "method_not_allowed", "POST"},
		{"DELETE on models", "DELETE", "/v1/models", "", 405, "", "method_not_allowed", "GET, HEAD"},
		{"PATCH on admin", "PATCH", "/api/routes", "{}", 405, "", "method_not_allowed", "GET, HEAD, POST"},
		{"admin without token", "GET", "/api/status", "", 401, "", "invalid_admin_token", ""},
		{"route id not a number", "GET", "/api/routes/abc", "", 404, "", "not_found", ""},
		{"route that does not exist", "GET", "/api/routes/999", "", 404, "", "not_found", ""},
		{"provider that does not exist", "GET", "/api/providers/nope", "", 404, "", "not_found", ""},
		{"admin body not JSON", "POST", "/api/routes", "{", 400, "", "", ""},
		{"admin field of the wrong type", "POST", "/api/routes", `{"priority":"high"}`, 400, "priority", "", ""},
	}
	h := newHarness(t)
	up := newFake(t, okChat("hi"))
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			req := h.request(tt.method, tt.path, body)
			if strings.HasPrefix(tt.path, "/api/") && tt.status != http.StatusUnauthorized {
				req.Header.Set("Authorization", "Bearer "+adminToken)
			}
			resp, b := h.do(req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			e := mustOpenAIError(t, b)
			if deref(e.Param) != tt.param {
				t.Errorf("param = %q, want %q (%s)", deref(e.Param), tt.param, b)
			}
			if tt.code != "" && deref(e.Code) != tt.code {
				t.Errorf("code = %q, want %q", deref(e.Code), tt.code)
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			// Inference responses always say which backend answered: none,
			// for errors the gateway makes before routing.
			wantBackend := ""
			switch {
			case tt.code == "model_not_found" && tt.method == "POST":
				wantBackend = "local"
			case strings.HasPrefix(tt.path, "/v1/"):
				wantBackend = "none"
			}
			if got := resp.Header.Get("X-Modelbar-Backend"); got != wantBackend {
				t.Errorf("X-Modelbar-Backend = %q, want %q", got, wantBackend)
			}
		})
	}
	// GET /v1/models/... may start the background fetch of the provider's
	// model list (GET /v1/models there); nothing else may reach it.
	for _, r := range up.requests() {
		if r.Method != http.MethodGet || r.Path != "/v1/models" {
			t.Errorf("provider received %s %s, want nothing but its model list asked for", r.Method, r.Path)
		}
	}
}
