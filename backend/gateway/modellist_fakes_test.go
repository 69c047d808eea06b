package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/gateway"
)

// Model lists as providers send them, for the tests of GET /v1/models.
var (
	// oaModels is an OpenAI-compatible list; gpt-4o has OpenRouter's fields.
	oaModels = []string{
		`{"id":"gpt-4o","object":"model","created":1715367049,"name":"OpenAI: GPT-4o","context_length":128000,
		  "architecture":{"input_modalities":["text","image"],"output_modalities":["text"]},
		  "top_provider":{"context_length":128000,"max_completion_tokens":16384},
		  "supported_parameters":["temperature","tools","tool_choice"]}`,
		`{"id":"gpt-4o-mini","object":"model"}`,
		`{"id":"o3","object":"model"}`,
		`{"id":"sentinel-oa-1","object":"model"}`,
	}
	// anModels is an Anthropic list, served two to a page.
	anModels = []string{
		`{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z",
		  "max_input_tokens":200000,"max_tokens":64000,"capabilities":` + anCapabilities + `}`,
		`{"type":"model","id":"claude-haiku-4-5","display_name":"Claude Haiku 4.5","created_at":"2025-10-15T00:00:00Z"}`,
		`{"type":"model","id":"claude-opus-4-1","display_name":"Claude Opus 4.1","created_at":"2025-08-05T00:00:00Z"}`,
		`{"type":"model","id":"sentinel-an-1","display_name":"Sentinel","created_at":"2025-01-01T00:00:00Z"}`,
	}
	anCapabilities = `{"batch":{"supported":true},"image_input":{"supported":true},"pdf_input":{"supported":true},"thinking":{"supported":true,"types":{"enabled":{"supported":true}}}}`
	// gqModels is Groq's list.
	gqModels = []string{
		`{"id":"gpt-4o-mini","object":"model","context_window":131072,"max_completion_tokens":8192}`,
		`{"id":"llama-3.3-70b","object":"model","context_window":131072}`,
		`{"id":"sentinel-gq-1","object":"model"}`,
	}
)

// listFake is a provider that serves its model list on GET /v1/models (an
// Anthropic one paged two by two) and a chat completion to anything else.
func listFake(t *testing.T, anthropic bool, entries []string) *fakeProvider {
	t.Helper()
	return newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/models" {
			okChat("hi")(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if !anthropic {
			fmt.Fprintf(w, `{"object":"list","data":[%s]}`, strings.Join(entries, ","))
			return
		}
		ids := make([]string, len(entries))
		for i, e := range entries {
			var m struct{ ID string }
			json.Unmarshal([]byte(e), &m)
			ids[i] = m.ID
		}
		start := slices.Index(ids, r.URL.Query().Get("after_id")) + 1
		end := min(start+2, len(ids))
		fmt.Fprintf(w, `{"data":[%s],"has_more":%t,"first_id":%q,"last_id":%q}`,
			strings.Join(entries[start:end], ","), end < len(ids), ids[start], ids[end-1])
	})
}

// listedModel is a model of the gateway's OpenAI-shaped list.
type listedModel struct {
	ID      string `json:"id"`
	OwnedBy string `json:"owned_by"`
}

// sentinelRoutes adds, for each provider, a route whose model only that
// provider's list has (sentinel-<name>-1), so that settledModels can tell
// when the lists have come.
func (h *harness) sentinelRoutes(providers ...string) {
	h.t.Helper()
	for _, p := range providers {
		h.addRoute(map[string]any{"model_pattern": "sentinel-" + p + "-*", "backend": p, "priority": 100})
	}
}

// settledModels asks GET /v1/models until each provider's sentinel is
// listed (its list has been fetched and published) and returns the body
// and the list without the sentinels.
func (h *harness) settledModels(providers ...string) ([]listedModel, []byte) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, b := h.do(h.request(http.MethodGet, "/v1/models", nil))
		if resp.StatusCode != http.StatusOK {
			h.t.Fatalf("GET /v1/models: %d %s", resp.StatusCode, b)
		}
		var list struct{ Data []listedModel }
		decode(h.t, b, &list)
		var out []listedModel
		found := 0
		for _, m := range list.Data {
			if strings.HasPrefix(m.ID, "sentinel-") {
				found++
				continue
			}
			out = append(out, m)
		}
		if found == len(providers) {
			return out, b
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the providers' lists never came: %s", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// chatMLTools is a chat template that renders tools and asks for Hermes
// tool calls, which the engine reads.
const chatMLTools = `{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>` +
	`Call a tool as <tool_call>{"name": ..., "arguments": ...}</tool_call>{% endif %}` +
	`{% for m in messages %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}`

// withLocalTools is withLocal with a second model, test/tools, whose chat
// template takes tools.
func withLocalTools(t *testing.T) func(*gateway.Options) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"tiny", "tools"} {
		if err := testmodel.Write(filepath.Join(dir, "models", "test", name), testmodel.Spec{Architecture: "qwen2", Seed: 7}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "models", "test", "tools", "chat_template.jinja"), []byte(chatMLTools), 0o644); err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	e := engine.New(engine.Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 30, Backend: b})
	t.Cleanup(func() { e.Close(); b.Close() })
	return func(o *gateway.Options) { o.Local = e }
}
