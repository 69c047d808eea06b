package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/connect"
)

type connectAnswer struct {
	BaseURL        string           `json:"base_url"`
	APIKeyRequired bool             `json:"api_key_required"`
	Model          string           `json:"model"`
	SmallModel     string           `json:"small_model"`
	ModelSource    string           `json:"model_source"`
	Models         []string         `json:"models"`
	Clients        []connect.Client `json:"clients"`
	Markdown       string           `json:"markdown"`
}

func getConnect(t *testing.T, h *harness, query string) connectAnswer {
	t.Helper()
	var a connectAnswer
	if err := json.Unmarshal(h.mustAdmin(http.MethodGet, "/api/connect"+query, nil, http.StatusOK), &a); err != nil {
		t.Fatalf("GET /api/connect%s: %v", query, err)
	}
	return a
}

func env(t *testing.T, a connectAnswer, client string) map[string]string {
	t.Helper()
	c, ok := connect.Find(a.Clients, client)
	if !ok {
		t.Fatalf("no client %q in /api/connect", client)
	}
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

func TestConnect_RendersThisServersAddress(t *testing.T) {
	h := newHarness(t)
	a := getConnect(t, h, "?model=gpt-4o&small_model=fast")
	want := connect.Defaults()
	want.BaseURL = h.srv.URL
	if diff := cmp.Diff(connect.Clients(want), a.Clients); diff != "" {
		t.Errorf("clients differ from backend/connect's for this address (-want +got):\n%s", diff)
	}
	if a.BaseURL != h.srv.URL || a.APIKeyRequired || a.Model != "gpt-4o" || a.SmallModel != "fast" || a.ModelSource != "query" {
		t.Errorf("base_url %q, api_key_required %v, model %q, small_model %q, model_source %q",
			a.BaseURL, a.APIKeyRequired, a.Model, a.SmallModel, a.ModelSource)
	}
	if e := env(t, a, "openai-sdk"); e["OPENAI_BASE_URL"] != h.srv.URL+"/v1" || e["OPENAI_API_KEY"] != connect.AnyKey {
		t.Errorf("OpenAI SDK variables %v", e)
	}
	if a.Markdown != connect.Markdown(a.Clients) {
		t.Error("markdown is not the clients' rendering")
	}
}

// TestConnect_DefaultModelIsOneTheServerHas: without a model in the
// query the snippets ask for the first name of the model list, or say
// they need one.
func TestConnect_DefaultModelIsOneTheServerHas(t *testing.T) {
	h := newHarness(t)
	a := getConnect(t, h, "")
	if a.Model != connect.ModelPlaceholder || a.ModelSource != "placeholder" || len(a.Models) != 0 {
		t.Errorf("with no model: model %q, model_source %q, models %q; want the placeholder", a.Model, a.ModelSource, a.Models)
	}
	if e := env(t, a, "claude-code"); e["ANTHROPIC_MODEL"] != connect.ModelPlaceholder {
		t.Errorf("Claude Code variables %v, want the placeholder model", e)
	}
	h.mustAdmin(http.MethodPost, "/api/routes", map[string]any{"model_pattern": "my-fast", "backend": "local"}, http.StatusCreated)
	h.mustAdmin(http.MethodPost, "/api/routes", map[string]any{"model_pattern": "my-big", "backend": "local"}, http.StatusCreated)
	a = getConnect(t, h, "")
	if a.ModelSource != "available" || a.Model != a.Models[0] || a.SmallModel != "" || len(a.Models) != 2 {
		t.Errorf("with two routes: model %q, small_model %q, model_source %q, models %q; want the first listed", a.Model, a.SmallModel, a.ModelSource, a.Models)
	}
	if e := env(t, a, "openai-sdk"); e["OPENAI_BASE_URL"] != h.srv.URL+"/v1" {
		t.Errorf("OpenAI SDK variables %v", e)
	}
	if e := env(t, a, "qwen-code"); e["OPENAI_MODEL"] != a.Models[0] {
		t.Errorf("Qwen Code's model %q, want %q", e["OPENAI_MODEL"], a.Models[0])
	}
}

func TestConnect_Models(t *testing.T) {
	h := newHarness(t)
	a := getConnect(t, h, "?model=my-model&small_model=my-fast")
	if e := env(t, a, "claude-code"); e["ANTHROPIC_MODEL"] != "my-model" || e["ANTHROPIC_SMALL_FAST_MODEL"] != "my-fast" {
		t.Errorf("Claude Code variables %v", e)
	}
	// An empty model leaves Claude Code its own model names.
	a = getConnect(t, h, "?model=")
	if e := env(t, a, "claude-code"); len(e) != 2 || e["ANTHROPIC_BASE_URL"] != h.srv.URL {
		t.Errorf("Claude Code variables with model= %v, want only the base URL and the token", e)
	}
	resp, b := h.admin(http.MethodGet, "/api/connect?small_model=a%00b", nil)
	if p := mustOpenAIError(t, b).Param; resp.StatusCode != http.StatusBadRequest || p == nil || *p != "small_model" {
		t.Errorf("a control character in small_model: %d %s, want 400 naming it", resp.StatusCode, b)
	}
}

func TestConnect_KeyPlaceholderWhileKeysAreRequired(t *testing.T) {
	h := newHarness(t)
	h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"require_api_keys": true}, http.StatusOK)
	a := getConnect(t, h, "")
	if !a.APIKeyRequired {
		t.Error("api_key_required false while keys are required")
	}
	if e := env(t, a, "claude-code"); e["ANTHROPIC_AUTH_TOKEN"] != connect.KeyPlaceholder {
		t.Errorf("Claude Code token %q, want the placeholder", e["ANTHROPIC_AUTH_TOKEN"])
	}
	if strings.Contains(a.Markdown, "="+connect.AnyKey+"\n") {
		t.Error("a snippet still shows the any-key while keys are required")
	}
}

func TestConnect_RequiresAdmin(t *testing.T) {
	h := newHarness(t)
	resp, _ := h.do(h.request(http.MethodGet, "/api/connect", nil))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %d, want 401", resp.StatusCode)
	}
}
