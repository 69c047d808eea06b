package gateway_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/router"
)

func TestAdmin_RequiresToken(t *testing.T) {
	h := newHarness(t)
	for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + adminToken + "x", "Basic " + adminToken, adminToken} {
		for _, path := range []string{"/api/status", "/api/providers", "/api/routes", "/api/requests"} {
			req := h.request(http.MethodGet, path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, b := h.do(req)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %q: status %d, want 401", path, auth, resp.StatusCode)
				continue
			}
			mustOpenAIError(t, b)
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", path)
			}
		}
	}
}

func TestAdmin_Providers(t *testing.T) {
	h := newHarness(t)
	const key = "sk-admin-test-key-9876"
	in := map[string]any{"type": "openai", "base_url": "http://127.0.0.1:1/v1/", "api_key": key}
	var created config.Provider
	decode(t, h.mustAdmin(http.MethodPut, "/api/providers/groq", in, http.StatusCreated), &created)
	// Another path on the same host keeps the key (another host would drop it).
	decode(t, h.mustAdmin(http.MethodPut, "/api/providers/groq", map[string]any{"base_url": "http://127.0.0.1:1/openai/v1"}, http.StatusOK), &created)
	h.mustAdmin(http.MethodPut, "/api/providers/nokey", map[string]any{"type": "openai"}, http.StatusCreated)

	body := h.mustAdmin(http.MethodGet, "/api/providers", nil, http.StatusOK)
	if bytes.Contains(body, []byte(key)) || bytes.Contains(body, []byte(`"api_key":`)) {
		t.Errorf("provider list shows the key: %s", body)
	}
	var list []config.Provider
	decode(t, body, &list)
	want := []config.Provider{
		{Name: "groq", Type: "openai", BaseURL: "http://127.0.0.1:1/openai/v1", HasAPIKey: true, APIKeyHint: "9876", KeySource: "file", Responses: "auto"},
		{Name: "nokey", Type: "openai", BaseURL: "https://api.openai.com/v1", Responses: "auto"},
	}
	if diff := cmp.Diff(want, list, cmpopts.IgnoreFields(config.Provider{}, "CreatedAt", "UpdatedAt")); diff != "" {
		t.Errorf("provider list (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		name  string
		in    map[string]any
		param string
	}{
		{"Bad Name", map[string]any{"type": "openai"}, "name"},
		{"local", map[string]any{"type": "openai"}, "name"},
		{"x", map[string]any{"type": "gemini"}, "type"},
		{"x", map[string]any{}, "type"},
		{"x", map[string]any{"type": "openai", "base_url": "ftp://example.com"}, "base_url"},
		{"x", map[string]any{"type": "openai", "base_url": "https://user:pw@example.com/v1"}, "base_url"},
		{"x", map[string]any{"type": "openai", "api_key": " sk-spaces "}, "api_key"},
		{"x", map[string]any{"type": "openai", "api_key_env": "NOT-A-NAME"}, "api_key_env"},
		{"x", map[string]any{"type": "openai", "name": "y"}, "name"},
	} {
		resp, b := h.admin(http.MethodPut, "/api/providers/"+tt.name, tt.in)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PUT %s %v: status %d, want 400: %s", tt.name, tt.in, resp.StatusCode, b)
			continue
		}
		if e := mustOpenAIError(t, b); deref(e.Param) != tt.param {
			t.Errorf("PUT %s %v: param %q, want %q", tt.name, tt.in, deref(e.Param), tt.param)
		}
	}

	h.route("m", "local", "groq:other")
	resp, b := h.admin(http.MethodDelete, "/api/providers/groq", nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("delete a provider a route uses: status %d, want 409: %s", resp.StatusCode, b)
	}
	mustOpenAIError(t, b)
	h.mustAdmin(http.MethodDelete, "/api/providers/nokey", nil, http.StatusNoContent)
	h.mustAdmin(http.MethodDelete, "/api/providers/nokey", nil, http.StatusNotFound)
}

func TestAdmin_RouteValidation(t *testing.T) {
	h := newHarness(t)
	h.putProvider("p", "http://127.0.0.1:1/v1", "")
	tests := []struct {
		name  string
		in    map[string]any
		param string
	}{
		{"no pattern", map[string]any{"backend": "p"}, "model_pattern"},
		{"bad pattern", map[string]any{"model_pattern": "gpt-[4", "backend": "p"}, "model_pattern"},
		{"no backend", map[string]any{"model_pattern": "m"}, "backend"},
		{"unknown backend", map[string]any{"model_pattern": "m", "backend": "nope"}, "backend"},
		{"unknown fallback", map[string]any{"model_pattern": "m", "backend": "p", "fallbacks": []string{"nope"}}, "fallbacks[0]"},
		{"fallback repeats the backend", map[string]any{"model_pattern": "m", "backend": "p", "fallbacks": []string{"local", "p"}}, "fallbacks[1]"},
		{"backend_model with spaces", map[string]any{"model_pattern": "m", "backend": "p", "backend_model": " x"}, "backend_model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := h.admin(http.MethodPost, "/api/routes", tt.in)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, b)
			}
			if e := mustOpenAIError(t, b); deref(e.Param) != tt.param {
				t.Errorf("param = %q, want %q: %s", deref(e.Param), tt.param, e.Message)
			}
		})
	}
	if n := len(h.cfg.Routes()); n != 0 {
		t.Errorf("%d routes stored, want none", n)
	}
}

// Routes are listed in evaluation order, and a change routes the very next
// request, without a restart.
func TestAdmin_RoutesOrderAndLiveUpdate(t *testing.T) {
	h := newHarness(t)
	exact := newFake(t, okChat("exact"))
	wild := newFake(t, okChat("wildcard"))
	h.putProvider("exact", exact.baseURL(), "")
	h.putProvider("wild", wild.baseURL(), "")
	wildcard := h.route("gpt-*", "wild")
	gpt4o := h.route("gpt-4o", "exact")
	high := h.addRoute(map[string]any{"model_pattern": "*", "backend": "local", "priority": 10, "enabled": false})

	var listed []router.Route
	decode(t, h.mustAdmin(http.MethodGet, "/api/routes", nil, http.StatusOK), &listed)
	if diff := cmp.Diff([]router.Route{high, gpt4o, wildcard}, listed); diff != "" {
		t.Errorf("routes not in evaluation order (-want +got):\n%s", diff)
	}

	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`
	if resp, b := h.post("/v1/chat/completions", body); resp.Header.Get("X-Modelbar-Backend") != "exact" {
		t.Fatalf("before: backend %q, body %s", resp.Header.Get("X-Modelbar-Backend"), b)
	}
	var updated router.Route
	decode(t, h.mustAdmin(http.MethodPut, fmt.Sprintf("/api/routes/%d", gpt4o.ID), map[string]any{"enabled": false}, http.StatusOK), &updated)
	want := gpt4o
	want.Enabled = false
	if diff := cmp.Diff(want, updated); diff != "" {
		t.Errorf("a partial update changed other fields (-want +got):\n%s", diff)
	}
	if resp, b := h.post("/v1/chat/completions", body); resp.Header.Get("X-Modelbar-Backend") != "wild" {
		t.Fatalf("after disabling: backend %q, body %s", resp.Header.Get("X-Modelbar-Backend"), b)
	}
	h.mustAdmin(http.MethodDelete, fmt.Sprintf("/api/routes/%d", wildcard.ID), nil, http.StatusNoContent)
	if resp, b := h.post("/v1/chat/completions", body); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after deleting the last route: status %d, want 404: %s", resp.StatusCode, b)
	}
	if n := len(exact.requests()) + len(wild.requests()); n != 2 {
		t.Errorf("providers received %d requests, want 2", n)
	}
}

func TestAdmin_Resolve(t *testing.T) {
	h := newHarness(t)
	h.putProvider("openai", "http://127.0.0.1:1/v1", "")
	h.putProvider("groq", "http://127.0.0.1:2/v1", "")
	rt := h.addRoute(map[string]any{"model_pattern": "fast", "backend": "openai", "backend_model": "gpt-4o-mini",
		"fallbacks": []string{"local", "groq:llama-3.1-8b-instant"}})
	tests := []struct {
		model string
		want  config.Resolution
	}{
		{"fast", config.Resolution{
			Model: "fast", Route: &rt, Backend: "openai", BackendModel: "gpt-4o-mini", Fallbacks: []string{"local", "groq"},
			Chain: []router.Target{{Backend: "openai", Model: "gpt-4o-mini", Weight: 1}, {Backend: "local", Model: "gpt-4o-mini"}, {Backend: "groq", Model: "llama-3.1-8b-instant"}},
			Group: []router.Target{{Backend: "openai", Model: "gpt-4o-mini", Weight: 1}}, Policy: "first",
		}},
		{"mlx-community/Qwen3-4B", config.Resolution{
			Model: "mlx-community/Qwen3-4B", Backend: "local", BackendModel: "mlx-community/Qwen3-4B", Fallbacks: []string{},
			Chain: []router.Target{{Backend: "local", Model: "mlx-community/Qwen3-4B", Weight: 1}},
			Group: []router.Target{{Backend: "local", Model: "mlx-community/Qwen3-4B", Weight: 1}}, Policy: "first",
		}},
	}
	for _, tt := range tests {
		var got config.Resolution
		decode(t, h.mustAdmin(http.MethodGet, "/api/routes/resolve?model="+url.QueryEscape(tt.model), nil, http.StatusOK), &got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("resolve %s (-want +got):\n%s", tt.model, diff)
		}
	}
	resp, b := h.admin(http.MethodGet, "/api/routes/resolve", nil)
	if resp.StatusCode != http.StatusBadRequest || deref(mustOpenAIError(t, b).Param) != "model" {
		t.Errorf("resolve without a model: status %d, body %s", resp.StatusCode, b)
	}
}

func TestAdmin_RequestsAndStatus(t *testing.T) {
	h := newHarness(t)
	primary := newFake(t, reply(http.StatusServiceUnavailable, upstreamError))
	fallback := newFake(t, okChat("hi"))
	h.putProvider("primary", primary.baseURL(), "")
	h.putProvider("fallback", fallback.baseURL(), "")
	h.route("m", "primary", "fallback")
	if resp, b := h.post("/v1/chat/completions", chatBody); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	h.post("/v1/chat/completions", `{"model":"unrouted","messages":[{"role":"user","content":"x"}]}`)
	h.settle()

	var entries []reqlog.Entry
	decode(t, h.mustAdmin(http.MethodGet, "/api/requests", nil, http.StatusOK), &entries)
	want := []reqlog.Entry{
		{ID: 2, Method: "POST", Path: "/v1/chat/completions", Protocol: "openai", Model: "unrouted", Backend: "local",
			FallbackFrom: []string{}, Status: http.StatusNotFound, Attempts: []reqlog.Attempt{}},
		{ID: 1, Method: "POST", Path: "/v1/chat/completions", Protocol: "openai", Model: "m", Route: "m", Backend: "fallback",
			FallbackFrom: []string{"primary"}, Status: http.StatusOK, Attempts: []reqlog.Attempt{
				{Backend: "primary", Model: "m", Status: 503, Outcome: reqlog.OutcomeFailed, Reason: "HTTP 503"},
				{Backend: "primary", Model: "m", Status: 503, Outcome: reqlog.OutcomeFailed, Reason: "HTTP 503", Retry: 1},
				{Backend: "primary", Model: "m", Status: 503, Outcome: reqlog.OutcomeFailed, Reason: "HTTP 503", Retry: 2},
				{Backend: "fallback", Model: "m", Status: 200, Outcome: reqlog.OutcomeAnswered},
			}},
	}
	// Timings and usage are checked in requests_test.go.
	opts := cmp.Options{cmpopts.IgnoreFields(reqlog.Entry{}, "Time", "DurationMS", "TTFBMS", "InputTokens", "OutputTokens", "OutputTokensSource", "Error"),
		cmpopts.IgnoreFields(reqlog.Attempt{}, "DurationMS")}
	if diff := cmp.Diff(want, entries, opts); diff != "" {
		t.Errorf("request log (-want +got):\n%s", diff)
	}
	if len(entries) == 2 && entries[0].Error == "" {
		t.Errorf("the failed request's entry has no error")
	}

	var status struct {
		SecretsBackend string `json:"secrets_backend"`
		Providers      int    `json:"providers"`
		Routes         int    `json:"routes"`
		Addr           string `json:"addr"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/status", nil, http.StatusOK), &status)
	wantStatus := status
	wantStatus.SecretsBackend, wantStatus.Providers, wantStatus.Routes = "file", 2, 1
	wantStatus.Addr = h.srv.Listener.Addr().String()
	if status != wantStatus {
		t.Errorf("status = %+v, want %+v", status, wantStatus)
	}
}
