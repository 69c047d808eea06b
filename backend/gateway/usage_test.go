package gateway_test

import (
	"net/http"
	"testing"
)

// The request log records the token usage the backend reported, whichever
// way the answer went: relayed whole or streamed in the client's API, or
// translated from the other API.
func TestRequestLog_RecordsUsage(t *testing.T) {
	openAIStreamUsage := `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":5}}}` + "\n\n"
	anthropicStream := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"c\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":13,\"cache_read_input_tokens\":2,\"output_tokens\":1}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n" +
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	cases := []struct {
		name          string
		providerType  string
		reply         http.HandlerFunc
		path, body    string
		input, output int64
		cached        int64 // the part of input read from the prompt cache
	}{
		{"openai whole", "openai", okChat("x"), "/v1/chat/completions", chatBody, 1, 1, 0},
		{"openai stream", "openai", sse(chunk("x"), openAIStreamUsage, done), "/v1/chat/completions",
			`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`, 11, 7, 5},
		{"anthropic whole", "anthropic", reply(http.StatusOK, anthropicOK), "/v1/messages",
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`, 3, 2, 0},
		{"anthropic stream", "anthropic", sse(anthropicStream), "/v1/messages",
			`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"x"}]}`, 15, 9, 2},
		{"openai client, anthropic stream (translated)", "anthropic", sse(anthropicStream), "/v1/chat/completions", streamBody, 15, 9, 2},
		{"responses stream (relayed)", "openai", sse("event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":0,\"response\":{\"usage\":{\"input_tokens\":21,\"input_tokens_details\":{\"cached_tokens\":6},\"output_tokens\":4}}}\n\n"),
			"/v1/responses", `{"model":"m","stream":true,"input":"x"}`, 21, 4, 6},
		{"responses client, anthropic stream (translated)", "anthropic", sse(anthropicStream), "/v1/responses", `{"model":"m","stream":true,"input":"x"}`, 15, 9, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			up := newFake(t, c.reply)
			base := up.baseURL()
			if c.providerType == "anthropic" {
				base = up.srv.URL
			}
			h.mustAdmin(http.MethodPut, "/api/providers/p", map[string]any{"type": c.providerType, "base_url": base}, http.StatusCreated)
			h.route("m", "p")
			if resp, body := h.post(c.path, c.body); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			h.settle()
			var entries []struct {
				InputTokens  int64  `json:"input_tokens"`
				CachedTokens int64  `json:"cached_tokens"`
				OutputTokens int64  `json:"output_tokens"`
				TTFBMS       int64  `json:"ttfb_ms"`
				Protocol     string `json:"protocol"`
			}
			decode(t, h.mustAdmin(http.MethodGet, "/api/requests?limit=1", nil, http.StatusOK), &entries)
			if len(entries) != 1 {
				t.Fatalf("%d entries", len(entries))
			}
			in, out := c.input, c.output
			if e := entries[0]; e.InputTokens != in || e.OutputTokens != out || e.TTFBMS < 0 {
				t.Errorf("logged input %d, output %d, ttfb %d ms; want %d, %d and a time", e.InputTokens, e.OutputTokens, e.TTFBMS, in, out)
			}
			if entries[0].CachedTokens != c.cached {
				t.Errorf("logged %d cached tokens, want %d", entries[0].CachedTokens, c.cached)
			}
			if want := map[string]string{"/v1/responses": "responses", "/v1/messages": "anthropic"}[c.path]; want != "" && entries[0].Protocol != want {
				t.Errorf("logged protocol %q, want %q", entries[0].Protocol, want)
			}
		})
	}
}
