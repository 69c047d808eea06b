package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/gateway"
	"github.com/modelbar/modelbar/backend/router"
)

// budgetClient is one client API: where it posts and how its 429 reads.
type budgetClient struct {
	name, path, body string
	errType          func(t *testing.T, b []byte) (typ, msg string)
}

func openAIErrType(t *testing.T, b []byte) (string, string) {
	e := mustOpenAIError(t, b)
	return e.Type, e.Message
}

func anthropicErrType(t *testing.T, b []byte) (string, string) {
	t.Helper()
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	decode(t, b, &e)
	if e.Type != "error" {
		t.Errorf("anthropic error body type %q, want error: %s", e.Type, b)
	}
	return e.Error.Type, e.Error.Message
}

var budgetClients = []budgetClient{
	{"openai chat", "/v1/chat/completions", `{"model":"capped","messages":[{"role":"user","content":"x"}]}`, openAIErrType},
	{"anthropic messages", "/v1/messages", `{"model":"capped","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`, anthropicErrType},
	{"responses", "/v1/responses", `{"model":"capped","input":"x","store":false}`, openAIErrType},
}

// checkBudget429 checks a budget refusal: 429, Retry-After within
// [1, maxRetry] seconds, the client's rate-limit error naming the route and
// the limit.
func checkBudget429(t *testing.T, c budgetClient, resp *http.Response, b []byte, limit string, maxRetry int) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", resp.StatusCode, b)
	}
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > maxRetry {
		t.Errorf("Retry-After %q, want 1..%d", resp.Header.Get("Retry-After"), maxRetry)
	}
	typ, msg := c.errType(t, b)
	if typ != "rate_limit_error" {
		t.Errorf("error type %q, want rate_limit_error: %s", typ, b)
	}
	if !strings.Contains(msg, `"capped"`) || !strings.Contains(msg, limit) {
		t.Errorf("message %q names neither the route nor %s", msg, limit)
	}
}

// A route over its requests per minute answers 429 in the client's API,
// never tries its fallback, logs the refusal, and leaves other routes be.
func TestBudget_RequestsPerMinute(t *testing.T) {
	for _, c := range budgetClients {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			primary, fallback := newFake(t, okChat("hi")), newFake(t, okChat("fallback"))
			h.putProvider("p", primary.baseURL(), "")
			h.putProvider("f", fallback.baseURL(), "")
			h.addRoute(map[string]any{"model_pattern": "capped", "backend": "p", "fallbacks": []string{"f"}, "max_requests_per_minute": 1})
			h.addRoute(map[string]any{"model_pattern": "other", "backend": "p", "max_requests_per_minute": 1})

			h.post(c.path, c.body)
			resp, b := h.post(c.path, c.body)
			checkBudget429(t, c, resp, b, "max_requests_per_minute", 60)
			h.settle()
			if n := len(primary.requests()); n != 1 {
				t.Errorf("primary got %d requests, want 1", n)
			}
			if n := len(fallback.requests()); n != 0 {
				t.Errorf("fallback got %d requests: a budget refusal must not fail over", n)
			}
			e := lastEntry(t, h)
			if e.Status != http.StatusTooManyRequests || e.Route != "capped" || !strings.Contains(e.Error, "max_requests_per_minute") {
				t.Errorf("request log entry %+v, want the 429 on route capped", e)
			}
			if resp, b := h.post(c.path, strings.Replace(c.body, "capped", "other", 1)); resp.StatusCode == http.StatusTooManyRequests {
				t.Errorf("route other refused by route capped's count: %s", b)
			}
		})
	}
}

// A route over its tokens per day (input + output of finished requests)
// answers 429 until local midnight.
func TestBudget_TokensPerDay(t *testing.T) {
	for _, c := range budgetClients[:2] {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			primary := newFake(t, okChat("hi")) // usage: 1 + 1 tokens
			h.putProvider("p", primary.baseURL(), "")
			rt := h.addRoute(map[string]any{"model_pattern": "capped", "backend": "p", "max_tokens_per_day": 2})

			if resp, b := h.post(c.path, c.body); resp.StatusCode != http.StatusOK {
				t.Fatalf("first request: status %d: %s", resp.StatusCode, b)
			}
			h.settle()
			resp, b := h.post(c.path, c.body)
			checkBudget429(t, c, resp, b, "max_tokens_per_day", 24*3600+3600)
			var list []struct {
				router.Route
				Usage struct {
					Requests int64 `json:"requests_this_minute"`
					Tokens   int64 `json:"tokens_today"`
				} `json:"usage"`
			}
			decode(t, h.mustAdmin(http.MethodGet, "/api/routes", nil, http.StatusOK), &list)
			if len(list) != 1 || list[0].ID != rt.ID || list[0].Usage.Tokens != 2 || list[0].Usage.Requests != 1 {
				t.Errorf("GET /api/routes = %+v, want route %d with 1 request and 2 tokens", list, rt.ID)
			}
		})
	}
}

// The budget fields are optional positive integers; null clears one and
// leaving it out of an update keeps it.
func TestBudget_AdminFields(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		name  string
		field string
		value any
	}{
		{"zero", "max_requests_per_minute", 0},
		{"negative", "max_tokens_per_day", -5},
		{"fraction", "max_requests_per_minute", 1.5},
		{"string", "max_tokens_per_day", "1000"},
		{"too big", "max_tokens_per_day", int64(router.MaxBudgetValue) + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := h.admin(http.MethodPost, "/api/routes", map[string]any{"model_pattern": "x", "backend": "local", tt.field: tt.value})
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, b)
			}
			if e := mustOpenAIError(t, b); deref(e.Param) != tt.field {
				t.Errorf("param %q, want %s: %s", deref(e.Param), tt.field, b)
			}
		})
	}

	rt := h.addRoute(map[string]any{"model_pattern": "x", "backend": "local", "max_requests_per_minute": 60, "max_tokens_per_day": 1000000})
	if rt.MaxRequestsPerMinute == nil || *rt.MaxRequestsPerMinute != 60 || rt.MaxTokensPerDay == nil || *rt.MaxTokensPerDay != 1000000 {
		t.Fatalf("created %+v", rt)
	}
	path := "/api/routes/" + strconv.FormatInt(rt.ID, 10)
	decode(t, h.mustAdmin(http.MethodPut, path, map[string]any{"priority": 3}, http.StatusOK), &rt)
	if rt.MaxRequestsPerMinute == nil || rt.MaxTokensPerDay == nil {
		t.Errorf("an update without the fields dropped them: %+v", rt)
	}
	b := h.mustAdmin(http.MethodPut, path, json.RawMessage(`{"max_tokens_per_day":null}`), http.StatusOK)
	rt = router.Route{}
	decode(t, b, &rt)
	if rt.MaxTokensPerDay != nil || rt.MaxRequestsPerMinute == nil {
		t.Errorf("null did not clear only max_tokens_per_day: %s", b)
	}
	plain := h.route("plain", "local")
	if plain.MaxRequestsPerMinute != nil || plain.MaxTokensPerDay != nil {
		t.Errorf("a route without a budget got one: %+v", plain)
	}
}

// A restarted gateway finds the tokens its routes spent today in the
// request log: a daily budget does not reset with the app.
func TestBudget_TokensSurviveRestart(t *testing.T) {
	var opts *gateway.Options
	h := newHarness(t, func(o *gateway.Options) { opts = o })
	h.putProvider("p", newFake(t, okChat("hi")).baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "capped", "backend": "p", "max_tokens_per_day": 2})
	if resp, b := h.post("/v1/chat/completions", budgetClients[0].body); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	h.settle()

	restarted := gateway.New(*opts)
	defer restarted.Close()
	req := h.request(http.MethodPost, "/v1/chat/completions", []byte(budgetClients[0].body))
	rec := httptest.NewRecorder()
	restarted.Handler().ServeHTTP(rec, req)
	checkBudget429(t, budgetClients[0], rec.Result(), rec.Body.Bytes(), "max_tokens_per_day", 24*3600+3600)
}
