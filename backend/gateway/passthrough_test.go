package gateway_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// A body no encoder would produce: odd spacing, unknown fields, "model" keys
// below the top level, numbers in exponent form and with trailing zeros.
const oddChatBody = "{ \"messages\" : [ {\"role\":\"user\", \"content\":\"hi\", \"model\":\"inner\"} ],\n" +
	"\t\"model\"  :  \"fast\" ,  \"temperature\":1.50e3, \"x_unknown\":{\"model\":\"nested\",\"n\":[1,2.0]} ,\"top_p\": 0.10 }"

const oddCompletionBody = "{\"prompt\":[\"a\", \"b\"],   \"x\": {\"model\": \"keep\"}, \"model\":\"fast\",\"max_tokens\":1E2}\n"

func TestPassThrough_BodyHeadersAndPath(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		body     string
		wantPath string
		wantBody string
	}{
		{"chat alias", "/v1/chat/completions", oddChatBody, "/v1/chat/completions",
			strings.Replace(oddChatBody, `"model"  :  "fast"`, `"model"  :  "gpt-4o-mini"`, 1)},
		{"completions alias", "/v1/completions", oddCompletionBody, "/v1/completions",
			strings.Replace(oddCompletionBody, `"model":"fast"`, `"model":"gpt-4o-mini"`, 1)},
		{"embeddings alias", "/v1/embeddings", `{"input":["a", "b"],"model": "fast" , "dimensions":256}`, "/v1/embeddings",
			`{"input":["a", "b"],"model": "gpt-4o-mini" , "dimensions":256}`},
		{"no alias: body untouched", "/v1/chat/completions",
			strings.Replace(oddChatBody, `"fast"`, `"gpt-4o"`, 1), "/v1/chat/completions",
			strings.Replace(oddChatBody, `"fast"`, `"gpt-4o"`, 1)},
	}
	const upstreamBody = `{"id":"x","object":"chat.completion","choices":[],"x_vendor_field":{"a":[1,2]},"n":1.50e3}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			up := newFake(t, reply(http.StatusOK, upstreamBody, "X-Request-Id", "req-123", "X-Vendor-Thing", "v"))
			h.putProvider("openai", up.baseURL(), "sk-test-1234abcd")
			h.addRoute(map[string]any{"model_pattern": "fast", "backend": "openai", "backend_model": "gpt-4o-mini"})
			h.route("gpt-4o", "openai")

			resp, got := h.post(tt.path, tt.body, "Authorization", "Bearer client-secret-token", "OpenAI-Beta", "assistants=v2")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			rec := up.only(t)
			if !bytes.Equal(rec.Body, []byte(tt.wantBody)) {
				t.Errorf("upstream body:\n got %q\nwant %q", rec.Body, tt.wantBody)
			}
			if rec.Method != http.MethodPost || rec.Path != tt.wantPath {
				t.Errorf("upstream request %s %s, want POST %s", rec.Method, rec.Path, tt.wantPath)
			}
			if got := rec.Header.Get("Authorization"); got != "Bearer sk-test-1234abcd" {
				t.Errorf("upstream Authorization = %q, want the provider key", got)
			}
			for name, vs := range rec.Header {
				if strings.Contains(strings.Join(vs, " "), "client-secret-token") {
					t.Errorf("the client's credential reached the provider in %s", name)
				}
			}
			if got := rec.Header.Get("OpenAI-Beta"); got != "assistants=v2" {
				t.Errorf("upstream OpenAI-Beta = %q, want it forwarded", got)
			}
			if !bytes.Equal(got, []byte(upstreamBody)) {
				t.Errorf("client body:\n got %s\nwant %s", got, upstreamBody)
			}
			for name, want := range map[string]string{
				"X-Request-Id": "req-123", "X-Vendor-Thing": "v", "X-Modelbar-Backend": "openai", "X-Modelbar-Fallback-From": "",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("response %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// The gateway has checked the body is JSON, so the provider is told so
// whatever the client sent: `curl -d` sends a form content type, and OpenAI
// then fails to read the body ("you must provide a model parameter").
func TestPassThrough_ContentTypeIsJSON(t *testing.T) {
	for _, ct := range []string{"", "application/x-www-form-urlencoded", "text/plain", "application/json"} {
		t.Run("client sends "+ct, func(t *testing.T) {
			h := newHarness(t)
			up := newFake(t, okChat("hi"))
			h.putProvider("p", up.baseURL(), "")
			h.route("m", "p")
			req := h.request(http.MethodPost, "/v1/chat/completions", []byte(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
			req.Header.Del("Content-Type")
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			if resp, b := h.do(req); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if got := up.only(t).Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("upstream Content-Type = %q, want application/json", got)
			}
		})
	}
}

func TestProviderUpdate_RebuildsClient(t *testing.T) {
	h := newHarness(t)
	first := newFake(t, okChat("first"))
	second := newFake(t, okChat("second"))
	h.putProvider("p", first.baseURL(), "sk-old-key-0001")
	h.route("m", "p")
	const body = `{"model":"m","messages":[{"role":"user","content":"x"}]}`

	if resp, b := h.post("/v1/chat/completions", body); resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("first")) {
		t.Fatalf("before the change: status %d, body %s", resp.StatusCode, b)
	}
	h.mustAdmin(http.MethodPut, "/api/providers/p", map[string]any{"base_url": second.baseURL(), "api_key": "sk-new-key-0002"}, http.StatusOK)
	if resp, b := h.post("/v1/chat/completions", body); resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("second")) {
		t.Fatalf("after the change: status %d, body %s", resp.StatusCode, b)
	}
	if n := len(first.requests()); n != 1 {
		t.Errorf("the old address got %d requests, want 1", n)
	}
	if got := second.only(t).Header.Get("Authorization"); got != "Bearer sk-new-key-0002" {
		t.Errorf("new client sent Authorization %q, want the new key", got)
	}
}
