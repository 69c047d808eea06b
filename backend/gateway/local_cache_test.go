package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// sseData returns the JSON of each data line of an SSE body.
func sseData(body []byte) [][]byte {
	var out [][]byte
	for _, line := range bytes.Split(body, []byte("\n")) {
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok && len(d) > 0 && d[0] == '{' {
			out = append(out, d)
		}
	}
	return out
}

// counts is a usage in any API's words.
type counts struct {
	PromptTokens  int  `json:"prompt_tokens"`
	InputTokens   int  `json:"input_tokens"`
	CacheRead     *int `json:"cache_read_input_tokens"`
	PromptDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	InputDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
}

// usageOf finds the usage object at one of the places the APIs put it.
func usageOf(t *testing.T, doc []byte, path string) *counts {
	t.Helper()
	var v struct {
		Usage    *counts                 `json:"usage"`
		Message  struct{ Usage *counts } `json:"message"`
		Response struct{ Usage *counts } `json:"response"`
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return map[string]*counts{"usage": v.Usage, "message.usage": v.Message.Usage, "response.usage": v.Response.Usage}[path]
}

// A request that repeats the previous one is answered from the local
// engine's prefix cache, and every API reports the reused tokens where its
// clients read them: OpenAI's prompt_tokens_details.cached_tokens (chat
// completions and completions, whole and in the final usage chunk), the
// Responses API's input_tokens_details.cached_tokens, Anthropic's
// cache_read_input_tokens (message_start and message_delta, as Anthropic
// sends them); the request log keeps them.
func TestLocal_ReportsCachedTokens(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	msgs := `"messages":[{"role":"user","content":"Tell me about prefix caches"}]`
	cases := []struct {
		name, path, body string
		// where: the data documents' usage paths to check; cached reads
		// the count from one.
		where  []string
		cached func(c *counts) (cached, prompt int)
	}{
		{"chat completions", "/v1/chat/completions", `{"model":"` + localModel + `","max_tokens":4,"temperature":0,` + msgs + `}`,
			[]string{"usage"}, openaiCached},
		{"chat completions stream", "/v1/chat/completions", `{"model":"` + localModel + `","max_tokens":4,"temperature":0,"stream":true,"stream_options":{"include_usage":true},` + msgs + `}`,
			[]string{"usage"}, openaiCached},
		{"completions", "/v1/completions", `{"model":"` + localModel + `","max_tokens":4,"temperature":0,"prompt":"Once upon a time there was a cache"}`,
			[]string{"usage"}, openaiCached},
		{"completions stream", "/v1/completions", `{"model":"` + localModel + `","max_tokens":4,"temperature":0,"stream":true,"stream_options":{"include_usage":true},"prompt":"Once upon a time there was a cache"}`,
			[]string{"usage"}, openaiCached},
		{"responses", "/v1/responses", `{"model":"` + localModel + `","max_output_tokens":4,"temperature":0,"input":"Tell me about prefix caches"}`,
			[]string{"usage"}, responsesCached},
		{"responses stream", "/v1/responses", `{"model":"` + localModel + `","max_output_tokens":4,"temperature":0,"stream":true,"input":"Tell me about prefix caches"}`,
			[]string{"response.usage"}, responsesCached},
		{"messages", "/v1/messages", `{"model":"` + localModel + `","max_tokens":4,"temperature":0,` + msgs + `}`,
			[]string{"usage"}, anthropicCached},
		{"messages stream", "/v1/messages", `{"model":"` + localModel + `","max_tokens":4,"temperature":0,"stream":true,` + msgs + `}`,
			[]string{"message.usage", "usage"}, anthropicCached},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body []byte
			for range 2 { // the second is answered from the first's cache
				var resp *http.Response
				if resp, body = h.post(c.path, c.body); resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
			}
			docs := [][]byte{body}
			if strings.Contains(c.body, `"stream":true`) {
				docs = sseData(body)
			}
			found := map[string]bool{}
			for _, doc := range docs {
				for _, where := range c.where {
					u := usageOf(t, doc, where)
					if u == nil || (where == "usage" && u.PromptTokens == 0 && u.InputTokens == 0 && u.CacheRead == nil) {
						continue
					}
					found[where] = true
					if cached, prompt := c.cached(u); prompt == 0 || cached != prompt-1 {
						t.Errorf("%s: %d cached of %d prompt tokens, want all but the last: %s", where, cached, prompt, doc)
					}
				}
			}
			for _, where := range c.where {
				if !found[where] {
					t.Errorf("no usage at %s in:\n%s", where, body)
				}
			}
			h.settle()
			var entries []struct {
				InputTokens  int64 `json:"input_tokens"`
				CachedTokens int64 `json:"cached_tokens"`
			}
			decode(t, h.mustAdmin(http.MethodGet, "/api/requests?limit=1", nil, http.StatusOK), &entries)
			if len(entries) != 1 || entries[0].CachedTokens != entries[0].InputTokens-1 || entries[0].CachedTokens == 0 {
				t.Errorf("request log: %+v", entries)
			}
		})
	}
}

func openaiCached(c *counts) (int, int) {
	if c.PromptDetails == nil {
		return 0, c.PromptTokens
	}
	return c.PromptDetails.CachedTokens, c.PromptTokens
}

func responsesCached(c *counts) (int, int) {
	if c.InputDetails == nil {
		return 0, c.InputTokens
	}
	return c.InputDetails.CachedTokens, c.InputTokens
}

// anthropicCached: input_tokens excludes what was read from the cache.
func anthropicCached(c *counts) (int, int) {
	if c.CacheRead == nil {
		return 0, c.InputTokens
	}
	return *c.CacheRead, c.InputTokens + *c.CacheRead
}
