package connect_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/connect"
)

func envOf(t *testing.T, cs []connect.Client, id string) map[string]string {
	t.Helper()
	c, ok := connect.Find(cs, id)
	if !ok {
		t.Fatalf("no client %q", id)
	}
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

func TestClients_EveryClientIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range connect.Clients(connect.Defaults()) {
		if c.ID == "" || c.Name == "" || seen[c.ID] {
			t.Errorf("client %q (%q): empty or repeated ID or name", c.ID, c.Name)
		}
		seen[c.ID] = true
		if len(c.APIs) == 0 || (c.Tested == "") == (c.Untested == "") || len(c.Blocks) == 0 {
			t.Errorf("%s: APIs %v, Tested %q, Untested %q, %d blocks: APIs, blocks and one of Tested and Untested must be set",
				c.ID, c.APIs, c.Tested, c.Untested, len(c.Blocks))
		}
		if len(c.Env)+len(c.Files)+len(c.Steps) == 0 && c.Run == "" {
			t.Errorf("%s: no configuration", c.ID)
		}
	}
	for _, id := range []string{"claude-code", "codex", "opencode", "continue", "cline", "zed", "xcode", "copilot", "cursor", "qwen-code", "ai-sdk", "openai-sdk", "anthropic-sdk", "curl"} {
		if !seen[id] {
			t.Errorf("no configuration for %s", id)
		}
	}
}

func TestClients_JSONFilesParse(t *testing.T) {
	o := connect.Options{BaseURL: "http://127.0.0.1:9/", APIKey: `k"e\y`, Model: `we"ird <model> & co`, SmallModel: "small"}
	for _, c := range connect.Clients(o) {
		for _, f := range c.Files {
			if f.Format != "json" {
				continue
			}
			var v any
			if err := json.Unmarshal([]byte(f.Content), &v); err != nil {
				t.Errorf("%s %s is not JSON: %v\n%s", c.ID, f.Path, err, f.Content)
			}
			if !strings.Contains(f.Content, `we\"ird <model> & co`) {
				t.Errorf("%s %s: the model name is not written as JSON text without HTML escapes:\n%s", c.ID, f.Path, f.Content)
			}
		}
	}
}

func TestClients_Addresses(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:9", "http://127.0.0.1:9/", "http://127.0.0.1:9/v1", " http://127.0.0.1:9/v1/ "} {
		cs := connect.Clients(connect.Options{BaseURL: base, Model: "m"})
		got := map[string]string{
			"claude":    envOf(t, cs, "claude-code")["ANTHROPIC_BASE_URL"],
			"anthropic": envOf(t, cs, "anthropic-sdk")["ANTHROPIC_BASE_URL"],
			"openai":    envOf(t, cs, "openai-sdk")["OPENAI_BASE_URL"],
			"qwen":      envOf(t, cs, "qwen-code")["OPENAI_BASE_URL"],
		}
		want := map[string]string{"claude": "http://127.0.0.1:9", "anthropic": "http://127.0.0.1:9",
			"openai": "http://127.0.0.1:9/v1", "qwen": "http://127.0.0.1:9/v1"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("base %q (-want +got):\n%s", base, diff)
		}
	}
}

func TestClients_Keys(t *testing.T) {
	cs := connect.Clients(connect.Options{Model: "m"})
	if k := envOf(t, cs, "openai-sdk")["OPENAI_API_KEY"]; k != connect.AnyKey {
		t.Errorf("without a key: %q, want %q", k, connect.AnyKey)
	}
	x, _ := connect.Find(cs, "xcode")
	if !strings.Contains(strings.Join(x.Steps, "\n"), "Locally Hosted") {
		t.Errorf("Xcode without a key: %q, want a locally hosted provider", x.Steps)
	}
	cs = connect.Clients(connect.Options{Model: "m", APIKey: "mb-123"})
	if k := envOf(t, cs, "claude-code")["ANTHROPIC_AUTH_TOKEN"]; k != "mb-123" {
		t.Errorf("Claude Code token %q, want the key", k)
	}
	x, _ = connect.Find(cs, "xcode")
	if steps := strings.Join(x.Steps, "\n"); !strings.Contains(steps, "API Key: mb-123") || !strings.Contains(steps, "x-api-key") {
		t.Errorf("Xcode with a key: %q", x.Steps)
	}
}

func TestClients_ClaudeCodeModels(t *testing.T) {
	e := envOf(t, connect.Clients(connect.Options{}), "claude-code")
	if len(e) != 2 {
		t.Errorf("without a model: %v, want only ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN", e)
	}
	e = envOf(t, connect.Clients(connect.Options{Model: "big", SmallModel: "small"}), "claude-code")
	want := map[string]string{"ANTHROPIC_BASE_URL": connect.DefaultBaseURL, "ANTHROPIC_AUTH_TOKEN": connect.AnyKey,
		"ANTHROPIC_MODEL": "big", "ANTHROPIC_DEFAULT_OPUS_MODEL": "big", "ANTHROPIC_DEFAULT_SONNET_MODEL": "big",
		"ANTHROPIC_DEFAULT_HAIKU_MODEL": "small", "ANTHROPIC_SMALL_FAST_MODEL": "small"}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMarkdown_QuotesShellAndYAML(t *testing.T) {
	cs := connect.Clients(connect.Options{Model: "a model: yes", APIKey: "it's"})
	md := connect.Markdown(cs)
	for _, want := range []string{
		`export OPENAI_MODEL='a model: yes'`,
		`export OPENAI_API_KEY='it'\''s'`,
		`    model: "a model: yes"`,
		`    apiKey: "it's"`,
		`  -H 'Authorization: Bearer it'\''s' -H 'Content-Type: application/json'`,
		`  -d '{"model":"a model: yes","messages":[{"role":"user","content":"Hello"}]}'`,
		`r = client.chat.completions.create(model="a model: yes", `,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the rendering lacks %q", want)
		}
	}
}
