package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/gateway"
)

const localModel = "test/tiny"

// withLocal gives the harness a local engine with one tiny generated model.
func withLocal(t *testing.T) (*engine.Engine, func(*gateway.Options)) {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(filepath.Join(dir, "models", "test", "tiny"), testmodel.Spec{Architecture: "qwen2", Seed: 7}); err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	e := engine.New(engine.Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 30, Backend: b})
	t.Cleanup(func() { e.Close(); b.Close() })
	return e, func(o *gateway.Options) { o.Local = e }
}

// A local model answers both APIs, whole and streamed, through the same
// translators as the providers.
func TestLocal_AnswersBothAPIs(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)

	cfg := openai.DefaultConfig("any")
	cfg.BaseURL = h.url("/v1")
	client := openai.NewClientWithConfig(cfg)
	ctx := context.Background()
	req := openai.ChatCompletionRequest{Model: localModel, MaxTokens: 8, Temperature: 0.0001,
		Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "Say hi"}}}
	resp, err := client.CreateChatCompletion(ctx, req)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if resp.Usage.PromptTokens == 0 || resp.Usage.CompletionTokens == 0 || len(resp.Choices) != 1 {
		t.Errorf("response %+v", resp)
	}
	req.Stream = true
	req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	stream, err := client.CreateChatCompletionStream(ctx, req)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	chunks, usage := 0, 0
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("stream recv: %v", err)
		}
		chunks++
		if c.Usage != nil {
			usage = c.Usage.CompletionTokens
		}
	}
	stream.Close()
	if chunks < 2 || usage == 0 {
		t.Errorf("stream: %d chunks, usage %d", chunks, usage)
	}

	whole, wb := h.post("/v1/messages", `{"model":"`+localModel+`","max_tokens":6,"temperature":0,"messages":[{"role":"user","content":"hi"}]}`)
	var msg struct {
		Type       string `json:"type"`
		StopReason string `json:"stop_reason"`
		Usage      struct {
			InputTokens int `json:"input_tokens"`
		} `json:"usage"`
	}
	if whole.StatusCode != http.StatusOK || json.Unmarshal(wb, &msg) != nil || msg.Type != "message" || msg.StopReason == "" || msg.Usage.InputTokens == 0 {
		t.Errorf("whole Anthropic answer: %d %s", whole.StatusCode, wb)
	}
	httpResp, body := h.post("/v1/messages", `{"model":"`+localModel+`","max_tokens":6,"temperature":0,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if httpResp.StatusCode != http.StatusOK || httpResp.Header.Get("X-Modelbar-Backend") != "local" {
		t.Fatalf("messages: %d %s", httpResp.StatusCode, body)
	}
	want := []string{"event: message_start", "event: message_delta", "event: message_stop"}
	if !strings.Contains(string(body), `"output_tokens":0}`) { // a random model may end its turn at once
		want = append(want, "event: content_block_start", "event: content_block_stop")
	}
	for _, ev := range want {
		if !strings.Contains(string(body), ev) {
			t.Errorf("Anthropic stream lacks %q:\n%s", ev, body)
		}
	}
}

// A client that goes away mid-stream stops the generation: the model is
// free again at once.
func TestLocal_DisconnectStopsGeneration(t *testing.T) {
	e, opt := withLocal(t)
	h := newHarness(t, opt)
	req := h.request(http.MethodPost, "/v1/chat/completions",
		[]byte(`{"model":"`+localModel+`","max_tokens":100000,"stream":true,"messages":[{"role":"user","content":"go on forever"}]}`))
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatalf("first event: %v", err)
	}
	resp.Body.Close()
	deadline := time.After(30 * time.Second)
	for {
		busy := false
		for _, m := range e.Models() {
			busy = busy || m.InUse > 0
		}
		if !busy {
			return
		}
		select {
		case <-deadline:
			t.Fatal("generation still running 30 s after the client left")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Local models are listed, loadable and unloadable through the admin API
// and appear in /v1/models.
func TestLocal_ModelsAdmin(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	var list []struct {
		ID     string `json:"id"`
		Usable bool   `json:"usable"`
		Loaded bool   `json:"loaded"`
		Pinned bool   `json:"pinned"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/models", nil, http.StatusOK), &list)
	if len(list) != 1 || list[0].ID != localModel || !list[0].Usable || list[0].Loaded {
		t.Fatalf("models %+v", list)
	}
	h.mustAdmin(http.MethodPost, "/api/models/load", map[string]any{"model": localModel, "pin": true}, http.StatusOK)
	decode(t, h.mustAdmin(http.MethodGet, "/api/models", nil, http.StatusOK), &list)
	if !list[0].Loaded || !list[0].Pinned {
		t.Errorf("after load: %+v", list)
	}
	h.mustAdmin(http.MethodPost, "/api/models/pin", map[string]any{"model": localModel, "pin": false}, http.StatusOK)
	decode(t, h.mustAdmin(http.MethodGet, "/api/models", nil, http.StatusOK), &list)
	if !list[0].Loaded || list[0].Pinned {
		t.Errorf("after unpin: %+v", list)
	}
	h.mustAdmin(http.MethodPost, "/api/models/pin", map[string]any{"model": localModel}, http.StatusBadRequest)
	h.mustAdmin(http.MethodPost, "/api/models/pin", map[string]any{"model": "test/missing", "pin": true}, http.StatusNotFound)
	var status struct {
		Local struct {
			Available bool              `json:"available"`
			Backend   string            `json:"backend"`
			Models    []json.RawMessage `json:"models"`
		} `json:"local"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/status", nil, http.StatusOK), &status)
	if !status.Local.Available || status.Local.Backend == "" || len(status.Local.Models) != 1 {
		t.Errorf("status %+v", status.Local)
	}
	h.mustAdmin(http.MethodPost, "/api/models/unload", map[string]any{"model": localModel}, http.StatusOK)
	h.mustAdmin(http.MethodPost, "/api/models/unload", map[string]any{"model": localModel}, http.StatusNotFound)
	h.mustAdmin(http.MethodPost, "/api/models/load", map[string]any{"model": "test/missing"}, http.StatusNotFound)

	resp, body := h.do(h.request(http.MethodGet, "/v1/models", nil))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"id":"`+localModel+`"`) || !strings.Contains(string(body), `"owned_by":"local"`) {
		t.Errorf("/v1/models: %s", body)
	}
}

// A route whose local model is missing fails over to its fallback.
func TestLocal_MissingModelFailsOver(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	up := newFake(t, okChat("from the cloud"))
	h.putProvider("cloud", up.baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "m", "backend": "local", "backend_model": "test/not-downloaded", "fallbacks": []string{"cloud:gpt-4o-mini"}})
	resp, body := h.post("/v1/chat/completions", chatBody)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "from the cloud") || resp.Header.Get("X-Modelbar-Fallback-From") != "local" {
		t.Errorf("%d %s %v", resp.StatusCode, body, resp.Header)
	}
}

// The legacy completions API continues a prompt with a local model.
func TestLocal_Completions(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	cfg := openai.DefaultConfig("any")
	cfg.BaseURL = h.url("/v1")
	client := openai.NewClientWithConfig(cfg)
	resp, err := client.CreateCompletion(context.Background(), openai.CompletionRequest{Model: localModel, Prompt: "def fib(n):", MaxTokens: 6, Temperature: 0.0001})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Usage.CompletionTokens == 0 || resp.Usage.CompletionTokens > 6 {
		t.Errorf("completion %+v", resp)
	}
	stream, err := client.CreateCompletionStream(context.Background(), openai.CompletionRequest{Model: localModel, Prompt: "def fib(n):", MaxTokens: 4, Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	finished := false
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		finished = finished || (len(c.Choices) > 0 && c.Choices[0].FinishReason != "")
	}
	if !finished {
		t.Error("no chunk carried a finish_reason")
	}
	r, body := h.post("/v1/completions", `{"model":"`+localModel+`","prompt":"x","suffix":"y"}`)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "suffix") {
		t.Errorf("suffix to the local engine: %d %s", r.StatusCode, body)
	}
}

func TestSettings_AdminAPI(t *testing.T) {
	h := newHarness(t)
	var st struct {
		MemoryBudgetMB int64 `json:"memory_budget_mb"`
		IdleTTLMinutes int64 `json:"idle_ttl_minutes"`
	}
	decode(t, h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"memory_budget_mb": 2048, "idle_ttl_minutes": 10}, http.StatusOK), &st)
	if st.MemoryBudgetMB != 2048 || st.IdleTTLMinutes != 10 {
		t.Errorf("after put: %+v", st)
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/settings", nil, http.StatusOK), &st)
	if st.MemoryBudgetMB != 2048 {
		t.Errorf("get: %+v", st)
	}
	resp, body := h.admin(http.MethodPut, "/api/settings", map[string]any{"idle_ttl_minutes": -3})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "idle_ttl_minutes") {
		t.Errorf("bad TTL: %d %s", resp.StatusCode, body)
	}
}

// The local engine takes Claude Code's default request (a system message
// inside the conversation, adaptive thinking, hints), names what it leaves
// out, and refuses only what it cannot give: JSON constrained to a schema
// outside its grammar's subset.
func TestLocal_ToleratesWhatChangesNothing(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	resp, body := h.post("/v1/messages", `{"model":"`+localModel+`","max_tokens":4,"temperature":0,
		"messages":[{"role":"user","content":"hi"},{"role":"system","content":"be brief"},{"role":"assistant","content":"ok"},{"role":"user","content":"again"}],
		"thinking":{"type":"adaptive"},"output_config":{"effort":"xhigh"},"context_management":{"edits":[]}}`, "anthropic-beta", "mid-conversation-system-2026-04-07")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Dropped") != "context_management" {
		t.Errorf("status %d, dropped %q: %s", resp.StatusCode, resp.Header.Get("X-Modelbar-Dropped"), body)
	}
	for path, body := range map[string]string{
		"/v1/chat/completions": `{"model":"` + localModel + `","messages":[{"role":"user","content":"hi"}],` +
			`"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"^a"}}}}`,
		"/v1/messages": `{"model":"` + localModel + `","max_tokens":4,"messages":[{"role":"user","content":"hi"}],` +
			`"output_config":{"format":{"type":"json_schema","schema":{"type":"object","not":{}}}}}`,
	} {
		resp, got := h.post(path, body)
		param := map[string]string{"/v1/chat/completions": `"param":"response_format"`, "/v1/messages": "output_config.format"}[path]
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), param) {
			t.Errorf("%s structured output to the local engine: %d %s, want a 400 naming %s", path, resp.StatusCode, got, param)
		}
	}
}

// A token count for a route whose first backend is a local model is the
// engine's: the prompt its chat template renders, in its tokenizer's
// tokens, the same number a chat reports as its prompt tokens; not flagged
// as an estimate. A local model that is missing is estimated for.
func TestLocal_CountsTokensWithItsTokenizer(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	h.addRoute(map[string]any{"model_pattern": "m", "backend": "local", "backend_model": localModel})
	h.addRoute(map[string]any{"model_pattern": "gone", "backend": "local", "backend_model": "test/not-downloaded"})

	resp, body := h.post("/v1/chat/completions", `{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hi, then count to ten."}]}`)
	var chat struct {
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &chat) != nil || chat.Usage.PromptTokens == 0 {
		t.Fatalf("chat: %d %s", resp.StatusCode, body)
	}
	want := chat.Usage.PromptTokens

	for _, c := range []struct{ path, body string }{
		{"/v1/responses/input_tokens", `{"model":"m","instructions":"Be brief.","input":"Say hi, then count to ten."}`},
		{"/v1/responses/input_tokens", `{"model":"m","input":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"input_text","text":"Say hi, then count to ten."}]}]}`},
		{"/v1/messages/count_tokens", `{"model":"m","system":"Be brief.","messages":[{"role":"user","content":"Say hi, then count to ten."}]}`},
	} {
		resp, body := h.post(c.path, c.body)
		var got struct {
			InputTokens int   `json:"input_tokens"`
			Estimated   *bool `json:"estimated"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil {
			t.Fatalf("%s: %d %s", c.path, resp.StatusCode, body)
		}
		if got.InputTokens != want || got.Estimated != nil || resp.Header.Get("X-Modelbar-Estimate") != "" || resp.Header.Get("X-Modelbar-Backend") != "local" {
			t.Errorf("%s %s: %s %v; want %d tokens (the chat's prompt tokens), counted by local, not estimated", c.path, c.body, body, resp.Header, want)
		}
	}

	for _, c := range []struct{ path, body string }{
		{"/v1/responses/input_tokens", `{"model":"gone","input":"Say hi"}`},
		{"/v1/messages/count_tokens", `{"model":"gone","messages":[{"role":"user","content":"Say hi"}]}`},
	} {
		resp, body := h.post(c.path, c.body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"estimated":true`) || resp.Header.Get("X-Modelbar-Estimate") != "true" {
			t.Errorf("%s for a missing local model: %d %s %v; want an estimate", c.path, resp.StatusCode, body, resp.Header)
		}
	}
}
