package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/google/go-cmp/cmp"
	openaigo "github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	goopenai "github.com/sashabaranov/go-openai"
)

// requireKeys turns the require_api_keys setting on or off.
func (h *harness) requireKeys(on bool) {
	h.t.Helper()
	h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"require_api_keys": on}, http.StatusOK)
}

// createdKey is the POST /api/keys answer.
type createdKey struct {
	ID         int64   `json:"id"`
	Name       string  `json:"name"`
	Hint       string  `json:"hint"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	Key        string  `json:"key"`
}

// createKey makes an inference API key through the admin API.
func (h *harness) createKey(name string) createdKey {
	h.t.Helper()
	var k createdKey
	decode(h.t, h.mustAdmin(http.MethodPost, "/api/keys", map[string]any{"name": name}, http.StatusCreated), &k)
	if k.Key == "" || k.ID <= 0 {
		h.t.Fatalf("created key %+v: no key or id", k)
	}
	return k
}

const (
	keyChatBody     = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	keyMessagesBody = `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	keyCountBody    = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
)

// keyCall is one /v1 request and the credentials it carries.
type keyCall struct {
	name    string
	method  string
	path    string
	body    string
	headers []string // name, value pairs
	status  int
}

// v1Calls are the same requests with each way of carrying a key; key is
// what they present.
func v1Calls(key string, want int) []keyCall {
	return []keyCall{
		{"chat, Bearer", "POST", "/v1/chat/completions", keyChatBody, []string{"Authorization", "Bearer " + key}, want},
		{"chat, bearer lower case", "POST", "/v1/chat/completions", keyChatBody, []string{"Authorization", "bearer " + key}, want},
		{"chat, x-api-key", "POST", "/v1/chat/completions", keyChatBody, []string{"x-api-key", key}, want},
		{"models, Bearer", "GET", "/v1/models", "", []string{"Authorization", "Bearer " + key}, want},
		{"messages, x-api-key", "POST", "/v1/messages", keyMessagesBody, []string{"x-api-key", key, "anthropic-version", "2023-06-01"}, want},
		{"messages, Bearer", "POST", "/v1/messages", keyMessagesBody, []string{"Authorization", "Bearer " + key}, want},
		{"count tokens, x-api-key", "POST", "/v1/messages/count_tokens", keyCountBody, []string{"x-api-key", key}, want},
	}
}

func (h *harness) call(c keyCall) (*http.Response, []byte) {
	h.t.Helper()
	var body []byte
	if c.body != "" {
		body = []byte(c.body)
	}
	return h.do(h.request(c.method, c.path, body, c.headers...))
}

// newKeyHarness is a gateway with model "m" routed to a provider that
// answers every chat.
func newKeyHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.putProvider("up", newFake(t, okChat("fine")).baseURL(), "sk-upstream")
	h.route("m", "up")
	return h
}

func TestAPIKeys_OffByDefault(t *testing.T) {
	h := newKeyHarness(t)
	h.createKey("unused") // a key existing changes nothing while keys are off
	calls := append(v1Calls("anything-at-all", http.StatusOK), v1Calls(adminToken, http.StatusOK)...)
	calls = append(calls, keyCall{"no credentials", "POST", "/v1/chat/completions", keyChatBody, nil, http.StatusOK})
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if resp, b := h.call(c); resp.StatusCode != c.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, c.status, b)
			}
		})
	}
}

func TestAPIKeys_Required(t *testing.T) {
	h := newKeyHarness(t)
	h.requireKeys(true)

	// Before any key exists, the answer says how to make one.
	for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
		resp, b := h.post(path, keyMessagesBody)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "POST /api/keys") {
			t.Errorf("%s with no keys created: %d %s; want 401 naming POST /api/keys", path, resp.StatusCode, b)
		}
	}

	key := h.createKey("laptop")
	other := h.createKey("ci")
	var calls []keyCall
	calls = append(calls, v1Calls(key.Key, http.StatusOK)...)
	calls = append(calls, v1Calls(other.Key, http.StatusOK)...)
	for _, bad := range []string{key.Key + "x", key.Key[:len(key.Key)-1], adminToken, "sk-" + key.Key[3:]} {
		calls = append(calls, v1Calls(bad, http.StatusUnauthorized)...)
	}
	calls = append(calls,
		keyCall{"no credentials", "POST", "/v1/chat/completions", keyChatBody, nil, http.StatusUnauthorized},
		keyCall{"messages, no credentials", "POST", "/v1/messages", keyMessagesBody, nil, http.StatusUnauthorized},
		keyCall{"Basic scheme", "POST", "/v1/chat/completions", keyChatBody, []string{"Authorization", "Basic " + key.Key}, http.StatusUnauthorized},
		keyCall{"bare token", "POST", "/v1/chat/completions", keyChatBody, []string{"Authorization", key.Key}, http.StatusUnauthorized},
		keyCall{"unknown /v1 path", "GET", "/v1/nothing", "", nil, http.StatusUnauthorized},
		keyCall{"unknown /v1 path with a key", "GET", "/v1/nothing", "", []string{"x-api-key", key.Key}, http.StatusNotFound},
		keyCall{"a wrong Bearer beside a right x-api-key", "POST", "/v1/chat/completions", keyChatBody,
			[]string{"Authorization", "Bearer wrong", "x-api-key", key.Key}, http.StatusOK},
		keyCall{"preflight", "OPTIONS", "/v1/chat/completions", "", []string{"Origin", "http://localhost:3000",
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization"}, http.StatusNoContent},
		keyCall{"preflight for messages", "OPTIONS", "/v1/messages", "", []string{"Origin", "http://127.0.0.1:5173",
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-api-key"}, http.StatusNoContent},
		keyCall{"admin API takes no inference key", "GET", "/api/status", "", []string{"Authorization", "Bearer " + adminToken}, http.StatusOK},
		keyCall{"health check", "GET", "/healthz", "", nil, http.StatusOK},
	)
	for i, c := range calls {
		t.Run(strconv.Itoa(i)+" "+c.name, func(t *testing.T) {
			resp, b := h.call(c)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, b)
			}
			if c.status == http.StatusUnauthorized {
				checkKeyError(t, c.path, resp, b)
			}
		})
	}

	// A revoked key fails on the very next request; the others still work.
	h.mustAdmin(http.MethodDelete, "/api/keys/"+strconv.FormatInt(key.ID, 10), nil, http.StatusNoContent)
	for _, c := range v1Calls(key.Key, http.StatusUnauthorized) {
		if resp, b := h.call(c); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("revoked key, %s: status %d, want 401: %s", c.name, resp.StatusCode, b)
		} else if !strings.Contains(string(b), "invalid API key") {
			t.Errorf("revoked key, %s: %s; want the invalid-key message", c.name, b)
		}
	}
	if resp, b := h.post("/v1/chat/completions", keyChatBody, "Authorization", "Bearer "+other.Key); resp.StatusCode != http.StatusOK {
		t.Errorf("the other key after a revoke: %d %s", resp.StatusCode, b)
	}

	// Turned off again, no key is needed.
	h.requireKeys(false)
	if resp, b := h.post("/v1/chat/completions", keyChatBody); resp.StatusCode != http.StatusOK {
		t.Errorf("keys off again: %d %s", resp.StatusCode, b)
	}
}

// checkKeyError asserts a 401 is in the error shape of the path's API.
func checkKeyError(t *testing.T, path string, resp *http.Response, b []byte) {
	t.Helper()
	if strings.HasPrefix(path, "/v1/messages") {
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		decode(t, b, &e)
		if e.Type != "error" || e.Error.Type != "authentication_error" || e.Error.Message == "" {
			t.Errorf("Anthropic 401 body %s, want type error / authentication_error", b)
		}
		if resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("Anthropic 401 has WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
		}
		return
	}
	e := mustOpenAIError(t, b)
	if e.Type != "invalid_request_error" || deref(e.Code) != "invalid_api_key" {
		t.Errorf("OpenAI 401 type %q code %q, want invalid_request_error / invalid_api_key", e.Type, deref(e.Code))
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("WWW-Authenticate = %q, want Bearer", got)
	}
}

func TestAPIKeys_AdminEndpoints(t *testing.T) {
	h := newHarness(t)

	// The admin token is required; an inference key is not one.
	k := h.createKey("Claude Code @ laptop")
	for _, auth := range []string{"", "Bearer " + k.Key, "Bearer wrong"} {
		for _, m := range []string{"GET /api/keys", "POST /api/keys", "DELETE /api/keys/" + strconv.FormatInt(k.ID, 10)} {
			method, path, _ := strings.Cut(m, " ")
			resp, b := h.do(h.request(method, path, []byte(`{"name":"x"}`), "Authorization", auth))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with Authorization %q: %d %s, want 401", m, auth, resp.StatusCode, b)
			}
		}
	}

	if k.Name != "Claude Code @ laptop" || k.Hint != k.Key[len(k.Key)-4:] || k.LastUsedAt != nil || k.CreatedAt == "" {
		t.Errorf("created key %+v", k)
	}
	if !strings.HasPrefix(k.Key, "mb-") || len(k.Key) != 46 {
		t.Errorf("key %q: want mb- and 43 base64url characters", k.Key)
	}
	resp, _ := h.admin(http.MethodPost, "/api/keys", map[string]any{"name": "second"})
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("POST /api/keys: status %d, Cache-Control %q; want 201, no-store", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}

	var raw []map[string]json.RawMessage
	decode(t, h.mustAdmin(http.MethodGet, "/api/keys", nil, http.StatusOK), &raw)
	if len(raw) != 2 {
		t.Fatalf("GET /api/keys: %d keys, want 2", len(raw))
	}
	for _, r := range raw {
		fields := slices.Sorted(maps.Keys(r))
		if diff := cmp.Diff([]string{"created_at", "hint", "id", "last_used_at", "name"}, fields); diff != "" {
			t.Errorf("listed key fields (-want +got):\n%s", diff)
		}
		if string(r["last_used_at"]) != "null" {
			t.Errorf("unused key last_used_at = %s, want null", r["last_used_at"])
		}
	}

	// A use shows as last_used_at.
	h.requireKeys(true)
	if resp, b := h.do(h.request("GET", "/v1/models", nil, "x-api-key", k.Key)); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/models with the key: %d %s", resp.StatusCode, b)
	}
	var listed []createdKey
	decode(t, h.mustAdmin(http.MethodGet, "/api/keys", nil, http.StatusOK), &listed)
	if listed[0].ID != k.ID || listed[0].LastUsedAt == nil || listed[1].LastUsedAt != nil {
		t.Errorf("after one use: %+v; want last_used_at on the used key only", listed)
	}

	bad := []struct {
		name   string
		body   any
		status int
		param  string
	}{
		{"no name", map[string]any{}, http.StatusBadRequest, "name"},
		{"empty name", map[string]any{"name": ""}, http.StatusBadRequest, "name"},
		{"long name", map[string]any{"name": strings.Repeat("n", 101)}, http.StatusBadRequest, "name"},
		{"control character", map[string]any{"name": "a\u0007"}, http.StatusBadRequest, "name"},
		{"name not a string", map[string]any{"name": 5}, http.StatusBadRequest, "name"},
	}
	for _, tt := range bad {
		resp, b := h.admin(http.MethodPost, "/api/keys", tt.body)
		if resp.StatusCode != tt.status || deref(mustOpenAIError(t, b).Param) != tt.param {
			t.Errorf("POST /api/keys, %s: %d %s; want %d on %q", tt.name, resp.StatusCode, b, tt.status, tt.param)
		}
	}

	id := strconv.FormatInt(k.ID, 10)
	h.mustAdmin(http.MethodDelete, "/api/keys/"+id, nil, http.StatusNoContent)
	for _, p := range []string{id, "999", "0", "-1", "abc"} {
		resp, b := h.admin(http.MethodDelete, "/api/keys/"+p, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("DELETE /api/keys/%s: %d %s, want 404", p, resp.StatusCode, b)
		}
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/keys", nil, http.StatusOK), &listed)
	if len(listed) != 1 || listed[0].Name != "second" {
		t.Errorf("after revoking: %+v; want only the second key", listed)
	}
}

// The three client libraries, with a modelbar key as their API key, against
// a gateway that requires one; a wrong key is their own 401 error.
func TestAPIKeys_SDKs(t *testing.T) {
	type sdk struct {
		name string
		call func(e *sdkEnv, key string) (status int, err error) // status of an API error, if any
	}
	sdks := []sdk{
		{"go-openai", func(e *sdkEnv, key string) (int, error) {
			cfg := goopenai.DefaultConfig(key)
			cfg.BaseURL, cfg.HTTPClient = e.h.url("/v1"), e.http
			_, err := goopenai.NewClientWithConfig(cfg).CreateChatCompletion(context.Background(), goOpenAIRequest(modelText, textQuestion, false))
			var apiErr *goopenai.APIError
			if errors.As(err, &apiErr) {
				return apiErr.HTTPStatusCode, err
			}
			return 0, err
		}},
		{"openai-go", func(e *sdkEnv, key string) (int, error) {
			c := openaigo.NewClient(openaioption.WithBaseURL(e.h.url("/v1/")), openaioption.WithAPIKey(key),
				openaioption.WithMaxRetries(0), openaioption.WithHTTPClient(e.http))
			_, err := c.Chat.Completions.New(context.Background(), openAIGoParams(modelText, textQuestion, false))
			var apiErr *openaigo.Error
			if errors.As(err, &apiErr) {
				return apiErr.StatusCode, err
			}
			return 0, err
		}},
		{"anthropic-sdk-go", func(e *sdkEnv, key string) (int, error) {
			c := anthropic.NewClient(anthropicoption.WithBaseURL(e.h.url("")), anthropicoption.WithAPIKey(key),
				anthropicoption.WithMaxRetries(0), anthropicoption.WithHTTPClient(e.http))
			_, err := c.Messages.New(context.Background(), anthropicParams(modelText, textQuestion))
			var apiErr *anthropic.Error
			if errors.As(err, &apiErr) {
				return apiErr.StatusCode, err
			}
			return 0, err
		}},
	}
	for _, s := range sdks {
		for _, kind := range wireKinds {
			t.Run(s.name+" to "+string(kind), func(t *testing.T) {
				e := newSDKEnv(t, kind)
				e.h.requireKeys(true)
				key := e.h.createKey(s.name).Key
				if _, err := s.call(e, key); err != nil {
					t.Fatalf("with the key: %v", err)
				}
				if status, err := s.call(e, key+"-wrong"); status != http.StatusUnauthorized {
					t.Errorf("with a wrong key: status %d, error %v; want the SDK's 401 error", status, err)
				}
				if n := len(e.up.requests()); n != 1 {
					t.Errorf("the upstream got %d requests, want 1 (the refused one never reaches it)", n)
				}
				assertNoClientKey(t, e.up.fakeProvider, key)
			})
		}
	}
}
