package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/redact"
)

func yes() *bool { return flag(true) }
func no() *bool  { return flag(false) }

// Each server family names the facts a picker needs its own way; the list
// reads them all, and leaves out what an entry does not say.
func TestListModels_ReadsEachFamilysFields(t *testing.T) {
	tests := []struct {
		name  string
		entry string
		want  ModelInfo
	}{
		{"OpenAI: id only", `{"id":"gpt-4o","object":"model","created":1715367049,"owned_by":"system"}`,
			ModelInfo{ID: "gpt-4o", Created: 1715367049}},
		{"OpenRouter", `{"id":"openai/gpt-4o","name":"OpenAI: GPT-4o","created":1715367049,"context_length":128000,
			"architecture":{"input_modalities":["text","image","file"],"output_modalities":["text"]},
			"top_provider":{"context_length":128000,"max_completion_tokens":16384,"is_moderated":true},
			"supported_parameters":["max_tokens","temperature","tools","tool_choice"]}`,
			ModelInfo{ID: "openai/gpt-4o", DisplayName: "OpenAI: GPT-4o", Created: 1715367049, ContextLength: 128000, MaxOutput: 16384, ToolUse: yes(), Vision: yes()}},
		{"OpenRouter without tools or images", `{"id":"x/y","context_length":8192,"architecture":{"input_modalities":["text"]},"supported_parameters":["temperature"]}`,
			ModelInfo{ID: "x/y", ContextLength: 8192, ToolUse: no(), Vision: no()}},
		{"Groq", `{"id":"llama-3.3-70b-versatile","object":"model","context_window":131072,"max_completion_tokens":32768,"active":true}`,
			ModelInfo{ID: "llama-3.3-70b-versatile", ContextLength: 131072, MaxOutput: 32768}},
		{"Mistral", `{"id":"pixtral-large-latest","max_context_length":131072,"capabilities":{"completion_chat":true,"function_calling":true,"vision":true}}`,
			ModelInfo{ID: "pixtral-large-latest", ContextLength: 131072, ToolUse: yes(), Vision: yes()}},
		{"LM Studio", `{"id":"qwen2-vl-7b","type":"vlm","max_context_length":32768,"capabilities":["tool_use"]}`,
			ModelInfo{ID: "qwen2-vl-7b", ContextLength: 32768, ToolUse: yes(), Vision: yes()}},
		{"LM Studio text model without tools", `{"id":"phi","type":"llm","capabilities":[]}`,
			ModelInfo{ID: "phi", ToolUse: no(), Vision: no()}},
		{"Ollama-style list", `{"id":"llava","capabilities":["completion","vision"]}`,
			ModelInfo{ID: "llava", ToolUse: no(), Vision: yes()}},
		{"vLLM", `{"id":"Qwen/Qwen3-8B","object":"model","max_model_len":40960}`,
			ModelInfo{ID: "Qwen/Qwen3-8B", ContextLength: 40960}},
		{"llama.cpp", `{"id":"model.gguf","meta":{"n_ctx_train":131072,"n_vocab":128256}}`,
			ModelInfo{ID: "model.gguf", ContextLength: 131072}},
		{"another modelbar", `{"id":"fast","name":"fast","description":"openai as gpt-4o","context_length":128000,
			"capabilities":{"function_calling":false,"vision":true},"top_provider":{"context_length":128000,"max_completion_tokens":4096}}`,
			ModelInfo{ID: "fast", DisplayName: "fast", ContextLength: 128000, MaxOutput: 4096, ToolUse: no(), Vision: yes()}},
		{"odd types are unknown, not fatal", `{"id":"odd","created":"yesterday","context_length":"lots","capabilities":{"vision":"maybe"},"max_completion_tokens":4096.0}`,
			ModelInfo{ID: "odd", MaxOutput: 4096}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := modelServer(t, func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"object":"list","data":[%s,{"object":"model"}]}`, tt.entry)
			})
			got, err := NewClient(Config{Name: "p", Type: OpenAI, BaseURL: srv.URL + "/v1"}).ListModels(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]ModelInfo{tt.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Some compatible servers (Together) answer a bare array.
func TestListModels_BareArray(t *testing.T) {
	srv := modelServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, ` [{"id":"a","display_name":"A","context_length":32768},{"id":"b"}]`)
	})
	got, err := NewClient(Config{Name: "p", Type: OpenAI, BaseURL: srv.URL + "/v1"}).ListModels(t.Context())
	want := []ModelInfo{{ID: "a", DisplayName: "A", ContextLength: 32768}, {ID: "b"}}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
}

// An Anthropic list is read page by page (after_id = last_id while
// has_more), each page with the key and anthropic-version, and its
// entries keep their limits and capabilities.
func TestListModels_AnthropicPages(t *testing.T) {
	const key = "sk-ant-pages-1234"
	caps := `{"image_input":{"supported":true},"pdf_input":{"supported":true},"thinking":{"supported":true,"types":{"enabled":{"supported":true}}}}`
	models := []string{
		`{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z","max_input_tokens":200000,"max_tokens":64000,"capabilities":` + caps + `}`,
		`{"type":"model","id":"claude-haiku-4-5","display_name":"Claude Haiku 4.5","created_at":"2025-10-15T00:00:00Z"}`,
		`{"type":"model","id":"claude-3-haiku-20240307","display_name":"Claude Haiku 3","created_at":"2024-03-07T00:00:00Z","capabilities":{"image_input":{"supported":false}}}`,
	}
	var mu sync.Mutex
	var seen []*http.Request
	srv := modelServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		ids := []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-3-haiku-20240307"}
		start := 0
		if after := r.URL.Query().Get("after_id"); after != "" {
			for i, id := range ids {
				if id == after {
					start = i + 1
				}
			}
		}
		end := min(start+2, len(ids)) // two per page, whatever limit asks
		fmt.Fprintf(w, `{"data":[%s],"has_more":%t,"first_id":%q,"last_id":%q}`,
			strings.Join(models[start:end], ","), end < len(ids), ids[start], ids[end-1])
	})
	c := NewClient(Config{Name: "an", Type: Anthropic, BaseURL: srv.URL, APIKey: redact.NewValue(key)})
	got, err := c.ListModels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []ModelInfo{
		{ID: "claude-sonnet-4-5", DisplayName: "Claude Sonnet 4.5", Created: 1759104000, ContextLength: 200000, MaxOutput: 64000, Vision: yes(), AnthropicCapabilities: json.RawMessage(caps)},
		{ID: "claude-haiku-4-5", DisplayName: "Claude Haiku 4.5", Created: 1760486400},
		{ID: "claude-3-haiku-20240307", DisplayName: "Claude Haiku 3", Created: 1709769600, Vision: no(), AnthropicCapabilities: json.RawMessage(`{"image_input":{"supported":false}}`)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(seen) != 2 {
		t.Fatalf("%d pages fetched, want 2", len(seen))
	}
	for i, r := range seen {
		if r.URL.Path != "/v1/models" || r.Header.Get("x-api-key") != key || r.Header.Get("anthropic-version") != AnthropicVersion || r.Header.Get("Authorization") != "" {
			t.Errorf("page %d: %s with x-api-key %q, anthropic-version %q, Authorization %q", i, r.URL, r.Header.Get("x-api-key"), r.Header.Get("anthropic-version"), r.Header.Get("Authorization"))
		}
	}
	if q := seen[1].URL.Query(); q.Get("after_id") != "claude-haiku-4-5" || q.Get("limit") != "1000" {
		t.Errorf("second page asked with %s", seen[1].URL.RawQuery)
	}
}

// A provider that always says has_more cannot keep a fetch going: the list
// ends when a page repeats its last id, and after maxModelPages at most.
func TestListModels_AnthropicPagingEnds(t *testing.T) {
	tests := []struct {
		name                  string
		repeat                bool
		wantPages, wantModels int
	}{
		{"the last id repeats", true, 2, 1},
		{"pages without end", false, maxModelPages, maxModelPages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := 0
			srv := modelServer(t, func(w http.ResponseWriter, r *http.Request) {
				pages++
				last := "same"
				if !tt.repeat {
					last = fmt.Sprintf("m%d", pages)
				}
				fmt.Fprintf(w, `{"data":[{"id":%q}],"has_more":true,"last_id":%q}`, last, last)
			})
			got, err := NewClient(Config{Name: "an", Type: Anthropic, BaseURL: srv.URL}).ListModels(t.Context())
			if err != nil || pages != tt.wantPages || len(got) != tt.wantModels {
				t.Errorf("%d pages, %d models, %v; want %d pages, %d models", pages, len(got), err, tt.wantPages, tt.wantModels)
			}
		})
	}
}

// A list that is not JSON, or an error status, is an *Error that names
// the provider and never carries the key.
func TestListModels_Failures(t *testing.T) {
	const key = "sk-list-fail-5678"
	tests := []struct {
		name   string
		answer http.HandlerFunc
		status int
	}{
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html>"+key) }, 502},
		{"401 quoting the key", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"bad key `+key+`"}}`)
		}, 401},
	}
	for _, tt := range tests {
		srv := modelServer(t, tt.answer)
		_, err := NewClient(Config{Name: "p", Type: OpenAI, BaseURL: srv.URL + "/v1", APIKey: redact.NewValue(key)}).ListModels(t.Context())
		var pe *Error
		if !errors.As(err, &pe) || pe.Status != tt.status || pe.Provider != "p" || strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want an *Error with status %d and no key", tt.name, err, tt.status)
		}
	}
}

// modelServer is a provider on loopback that answers every request with
// answer.
func modelServer(t *testing.T, answer http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(answer)
	t.Cleanup(srv.Close)
	return srv
}
