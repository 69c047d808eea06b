package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/gateway"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/reqlog"
)

const (
	smallModel   = "test/small" // a local model whose window is smallWindow
	smallWindow  = 64
	headerSkip   = "X-Modelbar-Skipped"
	longPrompt   = "Please summarise this long report for me. " // repeated: ~10 tokens of the estimate each
	longRepeats  = 40
	shortPrompt  = "hi"
	fallbackText = "from the fallback"
)

// withSmallLocal gives the harness a local engine with one generated model
// whose context window (max_position_embeddings) is smallWindow tokens.
func withSmallLocal(t *testing.T) (*engine.Engine, func(*gateway.Options)) {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(filepath.Join(dir, "models", smallModel), testmodel.Spec{Architecture: "qwen2", MaxPositionEmbeddings: smallWindow, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	e := engine.New(engine.Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 30, Backend: b})
	t.Cleanup(func() { e.Close(); b.Close() })
	return e, func(o *gateway.Options) { o.Local = e }
}

// windowFake is an OpenAI-type provider whose GET /v1/models answers list
// (a JSON array's items; "" answers 404) and which answers every chat,
// streamed when asked, with fallbackText.
func windowFake(t *testing.T, list string) *fakeProvider {
	t.Helper()
	return newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && list == "":
			reply(http.StatusNotFound, `{"error":{"message":"no model list here"}}`)(w, r)
		case r.Method == http.MethodGet:
			reply(http.StatusOK, `{"object":"list","data":[`+list+`]}`)(w, r)
		case strings.Contains(string(mustRead(r)), `"stream":true`):
			sse(chunk(fallbackText), `data: {"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n", done)(w, r)
		default:
			okChat(fallbackText)(w, r)
		}
	})
}

func mustRead(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	return b
}

// chats counts the chat requests a fake received (its model list aside).
func chats(f *fakeProvider) int {
	n := 0
	for _, r := range f.requests() {
		if r.Method == http.MethodPost {
			n++
		}
	}
	return n
}

// openAIChat is a chat completion request body.
func openAIChat(model, prompt string, maxTokens int, stream bool) string {
	limit := ""
	if maxTokens > 0 {
		limit = fmt.Sprintf(`,"max_tokens":%d`, maxTokens)
	}
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%q}]%s,"stream":%t}`, model, prompt, limit, stream)
}

// anthropicChat is a Messages request body.
func anthropicChat(model, prompt string, maxTokens int, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"max_tokens":%d,"messages":[{"role":"user","content":%q}],"stream":%t}`, model, maxTokens, prompt, stream)
}

// estimated is protocol.EstimateTokens of a one-message conversation, as
// the gateway measures a request for a provider.
func estimated(prompt string) int {
	return protocol.EstimateTokens(protocol.Request{Messages: []protocol.Message{{Role: protocol.RoleUser,
		Content: []protocol.Block{{Type: protocol.BlockText, Text: prompt}}}}})
}

// counted is the local model's own count of a one-message conversation.
func counted(t *testing.T, e *engine.Engine, prompt string) int {
	t.Helper()
	n, err := e.CountPrompt(context.Background(), protocol.Request{Model: smallModel, Messages: []protocol.Message{{Role: protocol.RoleUser,
		Content: []protocol.Block{{Type: protocol.BlockText, Text: prompt}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func loaded(e *engine.Engine, model string) bool {
	for _, m := range e.Models() {
		if m.ID == model {
			return m.Loaded || m.Loading
		}
	}
	return false
}

// A local model whose window is small takes the prompts that fit it; a
// longer one — or one whose requested output does not fit — goes to the
// fallback without the model being loaded, and the response names the
// skip, streamed or not, in both APIs. The request log records the skip.
func TestContextWindow_LocalSkippedForFallback(t *testing.T) {
	e, local := withSmallLocal(t)
	h := newHarness(t, local)
	big := windowFake(t, "")
	h.putProvider("big", big.baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "small", "backend": "local", "backend_model": smallModel, "fallbacks": []string{"big:big-model"}})

	long := strings.Repeat(longPrompt, longRepeats)
	longNeed := counted(t, e, long) + 16
	if longNeed <= smallWindow {
		t.Fatalf("the long prompt counts %d tokens: the test needs more than %d", longNeed, smallWindow)
	}
	fits := counted(t, e, shortPrompt)
	wantSkip := func(need int) string { return fmt.Sprintf("local (context %d < %d)", smallWindow, need) }
	for _, tt := range []struct {
		name, path, body string
		skipped          string // "": local answers
	}{
		{"OpenAI, long", "/v1/chat/completions", openAIChat("small", long, 16, false), wantSkip(longNeed)},
		{"OpenAI, long, streamed", "/v1/chat/completions", openAIChat("small", long, 16, true), wantSkip(longNeed)},
		{"Anthropic, long", "/v1/messages", anthropicChat("small", long, 16, false), wantSkip(longNeed)},
		{"Anthropic, long, streamed", "/v1/messages", anthropicChat("small", long, 16, true), wantSkip(longNeed)},
		{"the output asked for does not fit", "/v1/chat/completions", openAIChat("small", shortPrompt, smallWindow, false), wantSkip(fits + smallWindow)},
		{"the output asked for fits exactly", "/v1/chat/completions", openAIChat("small", shortPrompt, smallWindow-fits, false), ""},
		{"OpenAI, short", "/v1/chat/completions", openAIChat("small", shortPrompt, 4, false), ""},
		{"Anthropic, short, streamed", "/v1/messages", anthropicChat("small", shortPrompt, 4, true), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := chats(big)
			resp, b := h.post(tt.path, tt.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if got := resp.Header.Get(headerSkip); got != tt.skipped {
				t.Errorf("%s = %q; want %q", headerSkip, got, tt.skipped)
			}
			wantBackend, wantCalls := "big", before+1
			if tt.skipped == "" {
				wantBackend, wantCalls = "local", before
			} else if !strings.Contains(string(b), fallbackText) || resp.Header.Get("X-Modelbar-Fallback-From") != "local" {
				t.Errorf("the fallback's answer is not the client's (fallback from %q): %s", resp.Header.Get("X-Modelbar-Fallback-From"), b)
			}
			if got := resp.Header.Get("X-Modelbar-Backend"); got != wantBackend {
				t.Errorf("answered by %q; want %q", got, wantBackend)
			}
			if n := chats(big); n != wantCalls {
				t.Errorf("the fallback was called %d times; want %d", n, wantCalls)
			}
			if tt.skipped != "" && before == 0 && loaded(e, smallModel) {
				t.Error("measuring the prompt loaded the local model")
			}
			h.settle()
			entry := lastEntry(t, h)
			if tt.skipped != "" && (len(entry.Attempts) != 2 || entry.Attempts[0].Outcome != reqlog.OutcomeSkipped || entry.Attempts[0].Backend != "local" ||
				!strings.Contains(entry.Attempts[0].Reason, "context window of local") || entry.Attempts[1].Backend != "big") {
				t.Errorf("request log chain %+v; want local skipped, then big", entry.Attempts)
			}
		})
	}
}

// When no backend's window holds the request, the client hears a 400 in
// its own API's format naming the largest window and what the request
// needs; no backend is called, and the header names every skip.
func TestContextWindow_AllSkippedIs400(t *testing.T) {
	e, local := withSmallLocal(t)
	h := newHarness(t, local)
	narrow := windowFake(t, `{"id":"narrow-model","max_model_len":100},{"id":"sentinel-narrow-1"}`)
	h.putProvider("narrow", narrow.baseURL(), "")
	h.sentinelRoutes("narrow")
	h.addRoute(map[string]any{"model_pattern": "small", "backend": "local", "backend_model": smallModel, "fallbacks": []string{"narrow:narrow-model"}})
	h.addRoute(map[string]any{"model_pattern": "only-local", "backend": "local", "backend_model": smallModel})
	h.gw.WarmModelList()
	h.settledModels("narrow")

	long := strings.Repeat(longPrompt, longRepeats) // about 400 tokens: more than 100
	localNeed, narrowNeed := counted(t, e, long)+16, estimated(long)+16
	if narrowNeed <= 100 {
		t.Fatalf("the long prompt is estimated at %d tokens: the test needs more than 100", narrowNeed)
	}
	both := fmt.Sprintf("local (context %d < %d), narrow (context 100 < %d)", smallWindow, localNeed, narrowNeed)
	wantBoth := fmt.Sprintf("this request needs %d tokens of context (a prompt of %d tokens (estimated) plus 16 tokens of requested output), more than the largest context window of its backends, narrow's (100 tokens)", narrowNeed, narrowNeed-16)
	wantLocal := fmt.Sprintf("this request needs %d tokens of context (a prompt of %d tokens plus 16 tokens of requested output), more than the context window of local (%d tokens)", localNeed, localNeed-16, smallWindow)
	for _, tt := range []struct {
		name, path, body, skipped, message string
	}{
		{"OpenAI", "/v1/chat/completions", openAIChat("small", long, 16, false), both, wantBoth},
		{"OpenAI, streamed", "/v1/chat/completions", openAIChat("small", long, 16, true), both, wantBoth},
		{"Anthropic", "/v1/messages", anthropicChat("small", long, 16, false), both, wantBoth},
		{"Anthropic, streamed", "/v1/messages", anthropicChat("small", long, 16, true), both, wantBoth},
		{"local alone", "/v1/chat/completions", openAIChat("only-local", long, 16, false), fmt.Sprintf("local (context %d < %d)", smallWindow, localNeed), wantLocal},
		{"local alone, Anthropic, streamed", "/v1/messages", anthropicChat("only-local", long, 16, true), fmt.Sprintf("local (context %d < %d)", smallWindow, localNeed), wantLocal},
		{"local alone, Responses API", "/v1/responses", fmt.Sprintf(`{"model":"only-local","input":%q,"max_output_tokens":16}`, long),
			fmt.Sprintf("local (context %d < %d)", smallWindow, localNeed), wantLocal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := h.post(tt.path, tt.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if got := resp.Header.Get(headerSkip); got != tt.skipped {
				t.Errorf("%s = %q; want %q", headerSkip, got, tt.skipped)
			}
			var message string
			if tt.path == "/v1/messages" {
				e := mustAnthropicError(t, b)
				if e.Error.Type != "invalid_request_error" {
					t.Errorf("Anthropic error type %q", e.Error.Type)
				}
				message = e.Error.Message
			} else {
				e := mustOpenAIError(t, b)
				param := "messages"
				if tt.path == "/v1/responses" {
					param = "input"
				}
				if e.Type != "invalid_request_error" || e.Code == nil || *e.Code != "context_length_exceeded" || e.Param == nil || *e.Param != param {
					t.Errorf("OpenAI error %s", b)
				}
				message = e.Message
			}
			if !strings.HasPrefix(message, tt.message) {
				t.Errorf("message %q\nwant it to begin %q", message, tt.message)
			}
		})
	}
	if n := chats(narrow); n != 0 {
		t.Errorf("a skipped provider was called %d times", n)
	}
	if loaded(e, smallModel) {
		t.Error("a skipped local model was loaded")
	}
	// The last backend is skipped only when the prompt itself does not fit:
	// asked for more output than its window holds, the local model answers
	// up to its window, as before.
	resp, b := h.post("/v1/chat/completions", openAIChat("only-local", shortPrompt, 100000, false))
	if resp.StatusCode != http.StatusOK || resp.Header.Get(headerSkip) != "" || resp.Header.Get("X-Modelbar-Backend") != "local" {
		t.Errorf("a short prompt asking for more output than the window: %d, skipped %q: %s", resp.StatusCode, resp.Header.Get(headerSkip), b)
	}
}

// A provider's window comes from its own model list, in the fields each
// engine uses: vLLM's max_model_len, OpenRouter's context_length and
// llama.cpp's meta.n_ctx_train. A prompt estimated beyond it goes to the
// fallback; a short one to the provider, relayed untouched.
func TestContextWindow_ProviderWindowFromModelList(t *testing.T) {
	for _, tt := range []struct{ engine, entry string }{
		{"vllm", `{"id":"m","object":"model","owned_by":"vllm","max_model_len":100}`},
		{"openrouter", `{"id":"m","name":"M","context_length":100,"top_provider":{"context_length":100}}`},
		{"llamacpp", `{"id":"m","object":"model","owned_by":"llamacpp","meta":{"vocab_type":2,"n_vocab":32000,"n_ctx_train":100}}`},
	} {
		t.Run(tt.engine, func(t *testing.T) {
			h := newHarness(t)
			p := windowFake(t, tt.entry+`,{"id":"sentinel-p-1"}`)
			spare := windowFake(t, "")
			h.putProvider("p", p.baseURL(), "")
			h.putProvider("spare", spare.baseURL(), "")
			h.sentinelRoutes("p")
			h.route("m", "p", "spare")
			h.gw.WarmModelList()
			h.settledModels("p")

			short := openAIChat("m", shortPrompt, 10, false)
			resp, b := h.post("/v1/chat/completions", short)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") != "p" || resp.Header.Get(headerSkip) != "" {
				t.Fatalf("short prompt: %d, backend %q, skipped %q: %s", resp.StatusCode, resp.Header.Get("X-Modelbar-Backend"), resp.Header.Get(headerSkip), b)
			}
			if got := p.requests()[len(p.requests())-1].Body; string(got) != short {
				t.Errorf("the short prompt was not relayed untouched: %s", got)
			}
			// Near the window the request is decoded and estimated: it fits.
			medium := strings.Repeat("abcd ", 48)
			if body := openAIChat("m", medium, 10, false); len(body)/2 <= 100 || estimated(medium)+10 > 100 {
				t.Fatalf("the medium prompt must be near the window: %d bytes, estimated %d", len(body), estimated(medium))
			}
			resp, b = h.post("/v1/chat/completions", openAIChat("m", medium, 10, false))
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") != "p" || resp.Header.Get(headerSkip) != "" {
				t.Errorf("medium prompt: %d, backend %q, skipped %q: %s", resp.StatusCode, resp.Header.Get("X-Modelbar-Backend"), resp.Header.Get(headerSkip), b)
			}
			long := strings.Repeat(longPrompt, longRepeats)
			for _, stream := range []bool{false, true} {
				resp, b = h.post("/v1/chat/completions", openAIChat("m", long, 10, stream))
				want := fmt.Sprintf("p (context 100 < %d)", estimated(long)+10)
				if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") != "spare" || resp.Header.Get(headerSkip) != want {
					t.Errorf("long prompt (stream %t): %d, backend %q, skipped %q (want %q): %s", stream, resp.StatusCode,
						resp.Header.Get("X-Modelbar-Backend"), resp.Header.Get(headerSkip), want, b)
				}
			}
			if n := chats(p); n != 2 {
				t.Errorf("p got %d chats; want the short and the medium one", n)
			}
		})
	}
}

// routeWithMaxContext creates a route to p with fallback spare and sets its
// max_context through the admin API.
func (h *harness) routeWithMaxContext(pattern string, maxContext int) {
	h.t.Helper()
	rt := h.route(pattern, "p", "spare")
	var got struct {
		MaxContext *int64 `json:"max_context"`
	}
	decode(h.t, h.mustAdmin(http.MethodPut, "/api/routes/"+strconv.FormatInt(rt.ID, 10), map[string]any{"max_context": maxContext}, http.StatusOK), &got)
	if got.MaxContext == nil || *got.MaxContext != int64(maxContext) {
		h.t.Fatalf("the route's max_context is %v after setting %d", got.MaxContext, maxContext)
	}
}

// A route's max_context is the window of its provider when the provider's
// list gives none (or there is no list); a window the list gives wins. It
// is not the window of a fallback. Short prompts are unaffected.
func TestContextWindow_RouteMaxContext(t *testing.T) {
	h := newHarness(t)
	p := windowFake(t, `{"id":"no-window"},{"id":"wide","max_model_len":100000},{"id":"sentinel-p-1"}`)
	spare := windowFake(t, "")
	h.putProvider("p", p.baseURL(), "")
	h.putProvider("spare", spare.baseURL(), "")
	h.sentinelRoutes("p")
	h.gw.WarmModelList()
	h.settledModels("p")
	h.routeWithMaxContext("no-window", 100)
	h.routeWithMaxContext("wide", 100)
	// spare has no list: max_context is its window; p, a fallback here,
	// lists no "unlisted" and is not bound by the route's max_context.
	rt := h.addRoute(map[string]any{"model_pattern": "unlisted", "backend": "spare", "fallbacks": []string{"p"}})
	h.mustAdmin(http.MethodPut, "/api/routes/"+strconv.FormatInt(rt.ID, 10), map[string]any{"max_context": 100}, http.StatusOK)

	// A group: max_context is the window of each provider member whose
	// list gives none; the fallback (third) has none.
	third := windowFake(t, "")
	h.putProvider("third", third.baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "group", "max_context": 100, "policy": "first", "fallbacks": []string{"third"},
		"targets": []map[string]any{{"backend": "p", "model": "no-window"}, {"backend": "spare", "model": "x"}, {"backend": "p", "model": "wide"}}})

	long := strings.Repeat(longPrompt, longRepeats)
	need := estimated(long) + 10
	for _, tt := range []struct {
		model, prompt, backend, skipped string
	}{
		// p's "wide" lists 100000; p is in the group twice, so its
		// members are named with their models.
		{"group", long, "p", fmt.Sprintf("p:no-window (context 100 < %d), spare (context 100 < %d)", need, need)},
		{"group", shortPrompt, "p", ""},
		{"no-window", long, "spare", fmt.Sprintf("p (context 100 < %d)", need)},
		{"no-window", shortPrompt, "p", ""},
		{"wide", long, "p", ""},
		{"unlisted", long, "p", fmt.Sprintf("spare (context 100 < %d)", need)},
		{"unlisted", shortPrompt, "spare", ""},
	} {
		resp, b := h.post("/v1/chat/completions", openAIChat(tt.model, tt.prompt, 10, false))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") != tt.backend || resp.Header.Get(headerSkip) != tt.skipped {
			t.Errorf("%s, %d bytes of prompt: %d, backend %q, skipped %q; want %q, %q: %s", tt.model, len(tt.prompt), resp.StatusCode,
				resp.Header.Get("X-Modelbar-Backend"), resp.Header.Get(headerSkip), tt.backend, tt.skipped, b)
		}
	}
}

// A prompt only the local engine finds too long — the legacy completions
// API is not measured before the call — is skipped like a measured one
// when a fallback follows, and the client's 400 when none does.
func TestContextWindow_LocalEngineRefusalIsASkip(t *testing.T) {
	_, local := withSmallLocal(t)
	h := newHarness(t, local)
	big := windowFake(t, "")
	h.putProvider("big", big.baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "small", "backend": "local", "backend_model": smallModel, "fallbacks": []string{"big:big-model"}})
	h.addRoute(map[string]any{"model_pattern": "only-local", "backend": "local", "backend_model": smallModel})
	long := strings.Repeat(longPrompt, longRepeats)
	skip := regexp.MustCompile(`^local \(context 64 < (\d+)\)$`)

	resp, b := h.post("/v1/completions", fmt.Sprintf(`{"model":"small","prompt":%q,"max_tokens":4}`, long))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") != "big" || !skip.MatchString(resp.Header.Get(headerSkip)) {
		t.Errorf("with a fallback: %d, backend %q, skipped %q: %s", resp.StatusCode, resp.Header.Get("X-Modelbar-Backend"), resp.Header.Get(headerSkip), b)
	}
	resp, b = h.post("/v1/completions", fmt.Sprintf(`{"model":"only-local","prompt":%q,"max_tokens":4}`, long))
	e := mustOpenAIError(t, b)
	if resp.StatusCode != http.StatusBadRequest || e.Code == nil || *e.Code != "context_length_exceeded" || e.Param == nil || *e.Param != "prompt" ||
		!skip.MatchString(resp.Header.Get(headerSkip)) || !strings.Contains(e.Message, "more than the context window of local (64 tokens)") {
		t.Errorf("alone: %d, skipped %q: %s", resp.StatusCode, resp.Header.Get(headerSkip), b)
	}
	resp, b = h.post("/v1/completions", `{"model":"only-local","prompt":"hi","max_tokens":2}`)
	if resp.StatusCode != http.StatusOK || resp.Header.Get(headerSkip) != "" {
		t.Errorf("a short completion: %d, skipped %q: %s", resp.StatusCode, resp.Header.Get(headerSkip), b)
	}
}

// A provider that itself refuses a prompt as too long for its window
// (the windows it did not list) fails over to the next backend, in each
// engine's words; any other 400 is still the client's answer.
func TestContextWindow_ProviderRefusalFailsOver(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		failover   bool
	}{
		{"openai", `{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`, true},
		{"vllm", `{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.","type":"BadRequestError","param":null,"code":400}`, true},
		{"llamacpp", `{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}`, true},
		{"anthropic words", `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208000 tokens > 200000 maximum"}}`, true},
		{"another 400", `{"error":{"message":"temperature must be at most 2","type":"invalid_request_error","param":"temperature"}}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			small := newFake(t, reply(http.StatusBadRequest, tt.body))
			big := newFake(t, okChat("from big"))
			h.putProvider("small", small.baseURL(), "")
			h.putProvider("big", big.baseURL(), "")
			h.route("m", "small", "big")
			resp, b := h.post("/v1/chat/completions", openAIChat("m", shortPrompt, 10, false))
			switch {
			case tt.failover && (resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") != "big" ||
				resp.Header.Get("X-Modelbar-Fallback-From") != "small"):
				t.Errorf("%d, backend %q, fallback from %q: %s", resp.StatusCode, resp.Header.Get("X-Modelbar-Backend"),
					resp.Header.Get("X-Modelbar-Fallback-From"), b)
			case !tt.failover && (resp.StatusCode != http.StatusBadRequest || len(big.requests()) != 0):
				t.Errorf("a 400 about the request must reach the client: %d, big got %d: %s", resp.StatusCode, len(big.requests()), b)
			}
		})
	}
}

// Without WarmModelList (the application calls it when it starts
// serving) the gateway reads no model list for a window: a request never
// makes it fetch one.
func TestContextWindow_ListsReadOnlyOnceWarmed(t *testing.T) {
	h := newHarness(t)
	p := windowFake(t, `{"id":"m","max_model_len":10}`)
	h.putProvider("p", p.baseURL(), "")
	h.route("m", "p")
	resp, b := h.post("/v1/chat/completions", openAIChat("m", strings.Repeat(longPrompt, longRepeats), 10, false))
	if resp.StatusCode != http.StatusOK || resp.Header.Get(headerSkip) != "" {
		t.Fatalf("%d, skipped %q: %s", resp.StatusCode, resp.Header.Get(headerSkip), b)
	}
}

// BenchmarkContextWindow measures what knowing a provider's window costs a
// relayed request, next to the same request to a provider whose window is
// unknown, in the same run: a conversation of 40 turns, about 30 KB (an
// estimate of about 7,500 tokens). Far from the window (1,000,000) the
// body is only scanned; near it (11,000) it is decoded and estimated.
func BenchmarkContextWindow(b *testing.B) {
	var msgs []string
	for i := range 40 {
		role := []string{"user", "assistant"}[i%2]
		msgs = append(msgs, fmt.Sprintf(`{"role":%q,"content":%q}`, role, strings.Repeat("Some words of a long conversation. ", 20)))
	}
	body := `{"model":"MODEL","max_tokens":100,"messages":[` + strings.Join(msgs, ",") + `]}`
	h := newHarness(b)
	for _, p := range []struct{ name, list string }{
		{"unknown", ""},
		{"far", `{"id":"far","max_model_len":1000000},{"id":"sentinel-far-1"}`},
		{"near", `{"id":"near","max_model_len":11000},{"id":"sentinel-near-1"}`},
	} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if r.Method == http.MethodGet && p.list != "" {
				reply(http.StatusOK, `{"object":"list","data":[`+p.list+`]}`)(w, r)
				return
			}
			okChat("hi")(w, r)
		}))
		b.Cleanup(up.Close)
		h.putProvider(p.name, up.URL+"/v1", "")
		h.route(p.name, p.name)
	}
	h.sentinelRoutes("far", "near")
	h.gw.WarmModelList()
	h.settledModels("far", "near")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, model := range []string{"unknown", "far", "near"} {
		b.Run(model, func(b *testing.B) {
			req := strings.Replace(body, "MODEL", model, 1)
			b.SetBytes(int64(len(req)))
			for b.Loop() {
				resp, err := client.Post(h.url("/v1/chat/completions"), "application/json", strings.NewReader(req))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Header.Get(headerSkip) != "" {
					b.Fatalf("status %d, skipped %q", resp.StatusCode, resp.Header.Get(headerSkip))
				}
			}
		})
	}
}
