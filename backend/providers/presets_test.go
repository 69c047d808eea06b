package providers

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Every preset has a label, an OpenAI-convention base URL that
// NormalizeBaseURL keeps as it is, notes and a reasoning field.
func TestPresets_AreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Presets() {
		if p.Name == "" || seen[p.Name] || p.Label == "" || p.Notes == "" || p.Type != OpenAI {
			t.Errorf("preset %+v", p)
		}
		seen[p.Name] = true
		if u, err := NormalizeBaseURL(p.BaseURL); err != nil || u != p.BaseURL || !strings.HasSuffix(u, "/v1") {
			t.Errorf("%s: base URL %q (%v)", p.Name, p.BaseURL, err)
		}
		if p.ReasoningField != "reasoning" && p.ReasoningField != "reasoning_content" {
			t.Errorf("%s: reasoning field %q", p.Name, p.ReasoningField)
		}
		if got, ok := LookupPreset(p.Name); !ok || got.Name != p.Name {
			t.Errorf("LookupPreset(%q) = %v, %v", p.Name, got, ok)
		}
	}
	if diff := cmp.Diff([]string{"vllm", "sglang", "llamacpp", "ollama", "lmstudio", "modelbar"}, PresetNames()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if _, ok := LookupPreset("tgi"); ok {
		t.Error("an unknown preset was found")
	}
	if p, ok := LookupPreset(""); !ok || p.Name != "" {
		t.Error("the generic preset is not found")
	}
}

func TestPreset_DefaultBaseURLAndModelKey(t *testing.T) {
	llama, _ := LookupPreset("llamacpp")
	ollama, _ := LookupPreset("ollama")
	generic, _ := LookupPreset("")
	for _, c := range []struct{ got, want string }{
		{llama.DefaultBaseURL(OpenAI), "http://localhost:8080/v1"},
		{llama.DefaultBaseURL(Anthropic), "http://localhost:8080"},
		{generic.DefaultBaseURL(OpenAI), "https://api.openai.com/v1"},
		{generic.DefaultBaseURL(Anthropic), "https://api.anthropic.com"},
		{ollama.ModelKey("llama3.2"), "llama3.2:latest"},
		{ollama.ModelKey("llama3.2:latest"), "llama3.2:latest"},
		{ollama.ModelKey("qwen3:8b"), "qwen3:8b"},
		{ollama.ModelKey("hf.co/bartowski/Qwen3-8B-GGUF:Q4_K_M"), "hf.co/bartowski/Qwen3-8B-GGUF:Q4_K_M"},
		{ollama.ModelKey("registry.local:5000/library/llama3.2"), "registry.local:5000/library/llama3.2:latest"},
		{llama.ModelKey("llama3.2"), "llama3.2"},
		{llama.healthURL("http://gpu-box:8080/v1"), "http://gpu-box:8080/health"},
		{llama.healthURL("https://proxy.example/llama/v1"), "https://proxy.example/llama/health"},
		{llama.healthURL("https://proxy.example/llama"), ""}, // no /v1: the root is not known
		{ollama.healthURL("http://localhost:11434/v1"), ""},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestCheckExtraHeaders(t *testing.T) {
	long := strings.Repeat("x", MaxExtraHeaderValue+1)
	many := map[string]string{}
	for i := range MaxExtraHeaders + 1 {
		many["X-H"+strings.Repeat("a", i)] = "v"
	}
	for _, c := range []struct {
		name string
		h    map[string]string
		want string // "" accepted, else a part of the message
	}{
		{"proxy routing headers", map[string]string{"X-Tenant": "a", "CF-Access-Client-Id": "id.access", "OpenAI-Organization": "org-1", "anthropic-beta": "x"}, ""},
		{"none", nil, ""},
		{"authorization", map[string]string{"authorization": "Bearer sk-1"}, "api_key"},
		{"x-api-key", map[string]string{"X-API-Key": "k"}, "api_key"},
		{"api-key (Azure)", map[string]string{"api-key": "k"}, "api_key"},
		{"cookie", map[string]string{"Cookie": "a=b"}, "api_key"},
		{"proxy-authorization", map[string]string{"Proxy-Authorization": "Basic x"}, "api_key"},
		// Any name that says it carries a credential: extra headers are
		// stored and shown in plain text.
		{"Google API key", map[string]string{"X-Goog-Api-Key": "k"}, "api_key"},
		{"Cloudflare Access secret", map[string]string{"CF-Access-Client-Secret": "s"}, "api_key"},
		{"auth token", map[string]string{"X-Auth-Token": "t"}, "api_key"},
		{"session", map[string]string{"X-Session": "s"}, "api_key"},
		{"accept", map[string]string{"Accept": "text/plain"}, "HTTP client"},
		{"host", map[string]string{"Host": "evil"}, "HTTP client"},
		{"content-length", map[string]string{"Content-Length": "1"}, "HTTP client"},
		{"connection", map[string]string{"Connection": "close"}, "HTTP client"},
		{"transfer-encoding", map[string]string{"Transfer-Encoding": "chunked"}, "HTTP client"},
		{"sec-", map[string]string{"Sec-Fetch-Site": "none"}, "reserved"},
		{"bad name", map[string]string{"X Bad": "v"}, "not a valid header name"},
		{"empty name", map[string]string{"": "v"}, "not a valid header name"},
		{"CR LF in value", map[string]string{"X-A": "v\r\nX-Injected: 1"}, "control character"},
		{"NUL in value", map[string]string{"X-A": "v\x00"}, "control character"},
		{"spaces around value", map[string]string{"X-A": " v"}, "spaces"},
		{"value too long", map[string]string{"X-A": long}, "longer than"},
		{"two spellings", map[string]string{"x-a": "1", "X-A": "2"}, "same header"},
		{"too many", many, "too many"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckExtraHeaders(c.h)
			var he *HeaderError
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !errors.As(err, &he) || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
			for _, v := range c.h {
				if err != nil && len(v) > 3 && strings.Contains(err.Error(), v) {
					t.Errorf("the error quotes a value: %v", err)
				}
			}
		})
	}
}

// Extra headers reach every kind of request a client sends, over a header
// of the same name the caller passed, and the caller's header map is left
// as it was.
func TestClient_ExtraHeadersOnEveryRequest(t *testing.T) {
	var got []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Clone())
		w.Write([]byte(`{"object":"list","data":[{"id":"m"}]}`))
	}))
	defer srv.Close()
	c := NewClient(Config{Name: "p", Type: OpenAI, BaseURL: srv.URL + "/v1", Preset: "vllm",
		ExtraHeaders: map[string]string{"x-tenant": "a", "OpenAI-Project": "configured"}})
	ctx := context.Background()
	in := http.Header{"Openai-Project": {"from-client"}, "X-Other": {"kept"}}
	resp, err := c.Forward(ctx, http.MethodPost, "/v1/chat/completions", in, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := c.ListModels(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d requests", len(got))
	}
	for i, h := range got {
		if h.Get("X-Tenant") != "a" || len(h.Values("Openai-Project")) != 1 || h.Get("Openai-Project") != "configured" {
			t.Errorf("request %d headers %v", i, h)
		}
	}
	if got[0].Get("X-Other") != "kept" || in.Get("Openai-Project") != "from-client" {
		t.Errorf("relayed header lost, or the caller's changed: %v / %v", got[0], in)
	}
}

// The model lists of the engines' own shapes: llama.cpp's "models" and
// "data" (its served window meta.n_ctx first), its router mode (no meta),
// a list with only "models", LM Studio's ids without created.
func TestListModels_EngineShapes(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       []ModelInfo
	}{
		{"llama.cpp", `{"models":[{"name":"q.gguf","model":"q.gguf"}],"object":"list","data":[{"id":"q.gguf","object":"model","owned_by":"llamacpp","meta":{"n_ctx":8192,"n_ctx_train":40960}}]}`,
			[]ModelInfo{{ID: "q.gguf", ContextLength: 8192}}},
		{"llama.cpp router", `{"data":[{"id":"a","aliases":[],"tags":[],"object":"model","owned_by":"llamacpp","created":1,"status":{"value":"unloaded"}}],"object":"list"}`,
			[]ModelInfo{{ID: "a", Created: 1}}},
		{"models only", `{"models":[{"name":"x:latest","model":"x:latest"},{"name":"y"}]}`,
			[]ModelInfo{{ID: "x:latest"}, {ID: "y"}}},
		{"LM Studio", `{"data":[{"id":"qwen/qwen3-8b","object":"model","owned_by":"organization_owner"}],"object":"list"}`,
			[]ModelInfo{{ID: "qwen/qwen3-8b"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(c.body)) }))
			defer srv.Close()
			got, err := NewClient(Config{Name: "p", Type: OpenAI, BaseURL: srv.URL + "/v1"}).ListModels(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
