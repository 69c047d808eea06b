package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// engineFake is a fake of one remote engine, with the quirks its preset
// names (providers/presets.go): its model list's shape, usage in a stream
// only when stream_options.include_usage asks, the field its reasoning
// comes in, tagged model names (Ollama), flat error bodies (SGLang), a
// /health endpoint (vLLM, SGLang, llama.cpp).
type engineFake struct {
	preset    string
	model     string // the name it lists
	reasoning string // "reasoning_content" or "reasoning"
	health    bool   // serves GET /health
	srv       *httptest.Server

	mu       sync.Mutex
	requests []seenRequest
	down     bool // /health and the model list answer 503
}

// seenRequest is what a fake saw of one request.
type seenRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

// engineFakes are the six presets' servers.
var engineFakes = []struct {
	preset, model, reasoning string
	health                   bool
}{
	{"vllm", "meta-llama/Llama-3.1-8B-Instruct", "reasoning", true},
	{"sglang", "Qwen/Qwen3-8B", "reasoning_content", true},
	{"llamacpp", "qwen3-8b-q4_k_m.gguf", "reasoning_content", true},
	{"ollama", "llama3.2:latest", "reasoning", false},
	{"lmstudio", "qwen/qwen3-8b", "reasoning_content", false},
	{"modelbar", "qwen3-4b", "reasoning_content", false},
}

func newEngineFake(t *testing.T, preset, model, reasoning string, health bool) *engineFake {
	f := &engineFake{preset: preset, model: model, reasoning: reasoning, health: health}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *engineFake) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// seen returns the requests the fake saw whose path starts with prefix.
func (f *engineFake) seen(prefix string) []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []seenRequest
	for _, r := range f.requests {
		if strings.HasPrefix(r.path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func (f *engineFake) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, seenRequest{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body})
	down := f.down
	f.mu.Unlock()
	switch {
	case r.URL.Path == "/health" && f.health:
		if down {
			f.fail(w, http.StatusServiceUnavailable, "Loading model")
			return
		}
		if f.preset == "llamacpp" {
			io.WriteString(w, `{"status":"ok"}`)
		}
	case r.URL.Path == "/v1/models" && r.Method == http.MethodGet:
		if down {
			f.fail(w, http.StatusServiceUnavailable, "unavailable")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, f.modelList())
	case r.URL.Path == "/v1/chat/completions" && r.Method == http.MethodPost:
		f.chat(w, body)
	default:
		f.fail(w, http.StatusNotFound, "no route "+r.URL.Path)
	}
}

// modelList answers GET /v1/models in the engine's own shape.
func (f *engineFake) modelList() string {
	switch f.preset {
	case "vllm": // max_model_len, root, parent, permission
		return fmt.Sprintf(`{"object":"list","data":[{"id":%q,"object":"model","created":1733000000,"owned_by":"vllm","root":%[1]q,"parent":null,"max_model_len":32768,"permission":[{"id":"modelperm-1","object":"model_permission","allow_sampling":true}]}]}`, f.model)
	case "sglang":
		return fmt.Sprintf(`{"object":"list","data":[{"id":%q,"object":"model","created":1733000000,"owned_by":"sglang","root":%[1]q,"max_model_len":40960}]}`, f.model)
	case "llamacpp": // an Ollama-style "models" and "data" with meta
		return fmt.Sprintf(`{"models":[{"name":%q,"model":%[1]q,"modified_at":"","size":"","digest":"","type":"model","description":"","tags":[""],"capabilities":["completion"],"parameters":"","details":{"parent_model":"","format":"gguf","family":"","families":[""],"parameter_size":"","quantization_level":""}}],"object":"list","data":[{"id":%[1]q,"aliases":[],"tags":[],"object":"model","created":1733000000,"owned_by":"llamacpp","meta":{"vocab_type":2,"n_vocab":151936,"n_ctx":8192,"n_ctx_train":40960,"n_embd":4096,"n_params":8190735360,"size":5027783488}}]}`, f.model)
	case "ollama": // tagged ids, no window
		return fmt.Sprintf(`{"object":"list","data":[{"id":%q,"object":"model","created":1733000000,"owned_by":"library"}]}`, f.model)
	case "lmstudio": // ids only: no created, no window
		return fmt.Sprintf(`{"data":[{"id":%q,"object":"model","owned_by":"organization_owner"}],"object":"list"}`, f.model)
	}
	return fmt.Sprintf(`{"object":"list","data":[{"id":%q,"object":"model","created":1733000000,"owned_by":"local","name":%[1]q,"description":"","context_length":4096}]}`, f.model)
}

// fail answers an error in the engine's shape: SGLang's is flat.
func (f *engineFake) fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if f.preset == "sglang" {
		fmt.Fprintf(w, `{"object":"error","message":%q,"type":"BadRequestError","param":null,"code":%d}`, msg, status)
		return
	}
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error","code":%d}}`, msg, status)
}

// chatRequest is what the fakes read of a chat completion request.
type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// knows reports whether the engine serves model: Ollama takes a name
// without a tag as ":latest".
func (f *engineFake) knows(model string) bool {
	return model == f.model || (f.preset == "ollama" && model+":latest" == f.model)
}

func (f *engineFake) chat(w http.ResponseWriter, body []byte) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		f.fail(w, http.StatusBadRequest, "bad json")
		return
	}
	if !f.knows(req.Model) {
		f.fail(w, http.StatusNotFound, fmt.Sprintf("model %q not found", req.Model))
		return
	}
	usage := `{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}`
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1733000000,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":"Hi there",%q:"Let me think."},"finish_reason":"stop"}],"usage":%s}`,
			req.Model, f.reasoning, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	chunk := func(delta, finish string) string {
		extra := ""
		if f.preset == "sglang" { // every chunk carries reasoning_content and usage, null when empty
			extra = `,"usage":null`
			if !strings.Contains(delta, "reasoning_content") {
				delta = strings.TrimSuffix(delta, "}") + `,"reasoning_content":null}`
				delta = strings.Replace(delta, "{,", "{", 1)
			}
		}
		return fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1733000000,"model":%q,"choices":[{"index":0,"delta":%s,"finish_reason":%s}]%s}`,
			req.Model, delta, finish, extra)
	}
	events := []string{
		chunk(`{"role":"assistant","content":""}`, "null"),
		chunk(fmt.Sprintf(`{%q:"Let me think."}`, f.reasoning), "null"),
		chunk(`{"content":"Hi there"}`, "null"),
		chunk(`{}`, `"stop"`),
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage { // only when asked, as all six do
		last := fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1733000000,"model":%q,"choices":[],"usage":%s}`, req.Model, usage)
		if f.preset == "llamacpp" {
			last = strings.TrimSuffix(last, "}") + `,"timings":{"prompt_n":11,"predicted_n":7}}`
		}
		events = append(events, last)
	}
	for _, ev := range events {
		fmt.Fprintf(w, "data: %s\n\n", ev)
		w.(http.Flusher).Flush()
	}
	io.WriteString(w, "data: [DONE]\n\n")
}

// engineSetup is a gateway with one provider per preset, each behind its
// fake, and a route "<preset>-chat" to it. Ollama's route sends the name
// without its tag, as people write it.
func engineSetup(t *testing.T) (*harness, map[string]*engineFake) {
	h := newHarness(t)
	fakes := map[string]*engineFake{}
	for _, e := range engineFakes {
		f := newEngineFake(t, e.preset, e.model, e.reasoning, e.health)
		fakes[e.preset] = f
		b := h.mustAdmin(http.MethodPut, "/api/providers/"+e.preset, map[string]any{
			"preset": e.preset, "base_url": f.srv.URL + "/v1", "api_key": "sk-" + e.preset + "-0123456789",
			"extra_headers": map[string]string{"X-Tenant": "team-" + e.preset, "OpenAI-Organization": "org-configured"},
		}, http.StatusCreated)
		var p struct {
			Type   string `json:"type"`
			Preset string `json:"preset"`
		}
		decode(t, b, &p)
		if p.Type != "openai" || p.Preset != e.preset {
			t.Fatalf("provider %s: type %q preset %q, want openai and the preset", e.preset, p.Type, p.Preset)
		}
		model := e.model
		if e.preset == "ollama" {
			model = strings.TrimSuffix(model, ":latest")
		}
		h.addRoute(map[string]any{"model_pattern": e.preset + "-chat", "backend": e.preset, "backend_model": model, "fallbacks": []string{}})
	}
	return h, fakes
}

const engineChat = `{"model":"%s-chat","messages":[{"role":"user","content":"hello"}]%s}`

// Each engine answers through the gateway in both APIs, streaming and not,
// with its quirks handled: the reasoning in whichever field it uses, the
// usage of a stream asked for and counted, and kept from a client that
// did not ask for it.
func TestEngines_BothAPIsStreamingAndNot(t *testing.T) {
	h, fakes := engineSetup(t)
	for _, e := range engineFakes {
		f := fakes[e.preset]
		t.Run(e.preset, func(t *testing.T) {
			t.Run("openai", func(t *testing.T) {
				resp, body := h.post("/v1/chat/completions", fmt.Sprintf(engineChat, e.preset, ""))
				if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"Hi there"`)) || !bytes.Contains(body, []byte(`"`+e.reasoning+`":"Let me think."`)) {
					t.Fatalf("status %d body %s", resp.StatusCode, body)
				}
				h.settle()
				if got := lastEntry(t, h); got.InputTokens != 11 || got.OutputTokens != 7 {
					t.Errorf("request log tokens %d/%d, want 11/7", got.InputTokens, got.OutputTokens)
				}
			})
			t.Run("openai stream, usage not asked", func(t *testing.T) {
				resp, body := h.post("/v1/chat/completions", fmt.Sprintf(engineChat, e.preset, `,"stream":true,"stream_options":{"continuous_usage_stats":false}`))
				if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("data: [DONE]")) {
					t.Fatalf("status %d body %s", resp.StatusCode, body)
				}
				for _, d := range sseData(body) {
					var c struct {
						Choices []json.RawMessage `json:"choices"`
						Usage   json.RawMessage   `json:"usage"`
					}
					json.Unmarshal(d, &c)
					if len(c.Choices) == 0 {
						t.Errorf("the client got a chunk it did not ask for: %s", d)
					}
				}
				if !bytes.Contains(body, []byte(`"`+e.reasoning+`":"Let me think."`)) {
					t.Errorf("reasoning not relayed: %s", body)
				}
				sent := f.seen("/v1/chat/completions")
				var req struct {
					StreamOptions map[string]any `json:"stream_options"`
				}
				json.Unmarshal(sent[len(sent)-1].body, &req)
				if req.StreamOptions["include_usage"] != true || req.StreamOptions["continuous_usage_stats"] != false {
					t.Errorf("stream_options sent %v, want include_usage added and the client's own kept", req.StreamOptions)
				}
				h.settle()
				if got := lastEntry(t, h); got.InputTokens != 11 || got.OutputTokens != 7 || got.OutputTokensSource != "usage" {
					t.Errorf("request log tokens %d/%d (%s), want 11/7 as the provider counted", got.InputTokens, got.OutputTokens, got.OutputTokensSource)
				}
			})
			t.Run("openai stream, usage asked", func(t *testing.T) {
				resp, body := h.post("/v1/chat/completions", fmt.Sprintf(engineChat, e.preset, `,"stream":true,"stream_options":{"include_usage":true}`))
				if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"choices":[],"usage":{"prompt_tokens":11`)) {
					t.Fatalf("status %d; the usage chunk asked for is missing: %s", resp.StatusCode, body)
				}
			})
			t.Run("anthropic", func(t *testing.T) {
				resp, body := h.post("/v1/messages", fmt.Sprintf(`{"model":"%s-chat","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}`, e.preset))
				var m struct {
					Content []struct {
						Type     string `json:"type"`
						Text     string `json:"text"`
						Thinking string `json:"thinking"`
					} `json:"content"`
					Usage struct {
						InputTokens  int `json:"input_tokens"`
						OutputTokens int `json:"output_tokens"`
					} `json:"usage"`
				}
				decode(t, body, &m)
				if resp.StatusCode != http.StatusOK || len(m.Content) != 2 || m.Content[0].Thinking != "Let me think." || m.Content[1].Text != "Hi there" ||
					m.Usage.InputTokens != 11 || m.Usage.OutputTokens != 7 {
					t.Fatalf("status %d body %s", resp.StatusCode, body)
				}
			})
			t.Run("anthropic stream", func(t *testing.T) {
				resp, body := h.post("/v1/messages", fmt.Sprintf(`{"model":"%s-chat","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hello"}]}`, e.preset))
				if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"thinking":"Let me think."`)) ||
					!bytes.Contains(body, []byte(`"text":"Hi there"`)) || !bytes.Contains(body, []byte(`"output_tokens":7`)) {
					t.Fatalf("status %d body %s", resp.StatusCode, body)
				}
			})
		})
	}
	// Every request to an engine carried its extra headers, over the
	// client's header of the same name.
	for _, e := range engineFakes {
		reqs := fakes[e.preset].seen("/")
		if len(reqs) == 0 {
			t.Fatalf("%s saw no request", e.preset)
		}
		for _, r := range reqs {
			if got := r.header.Get("X-Tenant"); got != "team-"+e.preset {
				t.Errorf("%s %s %s: X-Tenant %q", e.preset, r.method, r.path, got)
			}
			if got := r.header.Values("OpenAI-Organization"); len(got) != 1 || got[0] != "org-configured" {
				t.Errorf("%s %s %s: OpenAI-Organization %q", e.preset, r.method, r.path, got)
			}
			if got := r.header.Get("Authorization"); got != "Bearer sk-"+e.preset+"-0123456789" {
				t.Errorf("%s %s %s: Authorization %q", e.preset, r.method, r.path, got)
			}
		}
	}
}

// A relayed client header of the same name as an extra header is
// replaced, not doubled.
func TestEngines_ExtraHeadersOverrideTheClients(t *testing.T) {
	h, fakes := engineSetup(t)
	resp, body := h.post("/v1/chat/completions", fmt.Sprintf(engineChat, "vllm", ""), "OpenAI-Organization", "org-of-the-client", "X-Other", "kept")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	sent := fakes["vllm"].seen("/v1/chat/completions")
	got := sent[len(sent)-1].header
	if v := got.Values("OpenAI-Organization"); len(v) != 1 || v[0] != "org-configured" || got.Get("X-Other") != "kept" {
		t.Errorf("headers sent: %v", got)
	}
}

// The model lists of all six shapes are read: windows where given
// (max_model_len, llama.cpp's meta.n_ctx over n_ctx_train, modelbar's
// context_length), none where not, and Ollama's tagged name matches the
// route's bare one in the route check.
func TestEngines_ModelLists(t *testing.T) {
	h, _ := engineSetup(t)
	windows := map[string]int{"vllm": 32768, "sglang": 40960, "llamacpp": 8192, "ollama": 0, "lmstudio": 0, "modelbar": 4096}
	for _, e := range engineFakes {
		var list struct {
			Known  bool `json:"known"`
			Models []struct {
				ID            string `json:"id"`
				ContextLength int    `json:"context_length"`
			} `json:"models"`
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			decode(t, h.mustAdmin(http.MethodGet, "/api/providers/"+e.preset+"/models", nil, http.StatusOK), &list)
			if len(list.Models) == 0 || list.Models[0].ContextLength == windows[e.preset] || time.Now().After(deadline) {
				break // the catalog's list (with windows) replaces the probe's (ids only) once fetched
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !list.Known || len(list.Models) != 1 || list.Models[0].ID != e.model || list.Models[0].ContextLength != windows[e.preset] {
			t.Errorf("%s: list %+v, want %s with window %d", e.preset, list, e.model, windows[e.preset])
		}
	}
	// The route check knows Ollama's "llama3.2" as its "llama3.2:latest".
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := h.resolve("ollama-chat")
		if len(r.Chain) > 0 && r.Chain[0].Known != nil {
			if !*r.Chain[0].Known || len(r.Warnings) > 0 {
				t.Errorf("ollama-chat resolves to %+v, want its model known", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the route check never learnt Ollama's list: %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SGLang's flat error body reaches an OpenAI client in OpenAI's shape,
// with its message; a nested one is relayed as it came.
func TestEngines_FlatErrorsAreRewrapped(t *testing.T) {
	h, _ := engineSetup(t)
	h.addRoute(map[string]any{"model_pattern": "missing-sglang", "backend": "sglang", "backend_model": "nope", "fallbacks": []string{}})
	h.addRoute(map[string]any{"model_pattern": "missing-vllm", "backend": "vllm", "backend_model": "nope", "fallbacks": []string{}})
	for _, c := range []struct{ model, want string }{
		{"missing-sglang", `model \"nope\" not found`},
		{"missing-vllm", `{"error":{"message":"model \"nope\" not found","type":"invalid_request_error","code":404}}`},
	} {
		resp, body := h.post("/v1/chat/completions", `{"model":"`+c.model+`","messages":[{"role":"user","content":"x"}]}`)
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		json.Unmarshal(body, &e)
		if resp.StatusCode != http.StatusNotFound || e.Error.Message == "" || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: status %d body %s", c.model, resp.StatusCode, body)
		}
	}
}

// GET /api/providers/presets lists the six presets with the defaults the
// editor fills in.
func TestEngines_PresetsAPI(t *testing.T) {
	h := newHarness(t)
	var ps []struct {
		Name    string `json:"name"`
		Label   string `json:"label"`
		Type    string `json:"type"`
		BaseURL string `json:"base_url"`
		Notes   string `json:"notes"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/providers/presets", nil, http.StatusOK), &ps)
	want := map[string]string{"vllm": "http://localhost:8000/v1", "sglang": "http://localhost:30000/v1", "llamacpp": "http://localhost:8080/v1",
		"ollama": "http://localhost:11434/v1", "lmstudio": "http://localhost:1234/v1", "modelbar": "http://localhost:11500/v1"}
	if len(ps) != len(want) {
		t.Fatalf("presets %+v", ps)
	}
	for _, p := range ps {
		if want[p.Name] != p.BaseURL || p.Type != "openai" || p.Label == "" || p.Notes == "" {
			t.Errorf("preset %+v", p)
		}
	}
	// A provider made from a preset alone takes its type and address.
	var p struct {
		Type    string `json:"type"`
		BaseURL string `json:"base_url"`
		Health  any    `json:"health"`
	}
	decode(t, h.mustAdmin(http.MethodPut, "/api/providers/box", map[string]any{"preset": "ollama"}, http.StatusCreated), &p)
	if p.Type != "openai" || p.BaseURL != "http://localhost:11434/v1" || p.Health != nil {
		t.Errorf("provider from a preset: %+v", p)
	}
	// Credentials go in api_key, never in extra headers.
	resp, body := h.admin(http.MethodPut, "/api/providers/box", map[string]any{"extra_headers": map[string]string{"Authorization": "Bearer sk-secret-value"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "api_key") || strings.Contains(string(body), "sk-secret-value") {
		t.Errorf("credential header: status %d body %s", resp.StatusCode, body)
	}
}
