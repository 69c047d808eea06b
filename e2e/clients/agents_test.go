package clients

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/connect"
)

// agentOpts are the options the command-line agents are rendered with.
var agentOpts = connect.Options{Model: "e2e-model", SmallModel: "e2e-small"}

// each runs a case for every gateway and kind.
func each(t *testing.T, name string, api string, c clientCase) {
	for _, gw := range []string{"openai", "anthropic"} {
		for _, kind := range []string{"text", "tool"} {
			c := c
			c.gateway, c.kind, c.api = gw, kind, api
			t.Run(fmt.Sprintf("%s/%s/%s", name, pathName(gw, api), kind), c.run)
		}
	}
}

// TestOpencode runs `opencode run` with the rendered opencode.json's two
// providers: modelbar (OpenAI API) and modelbar-anthropic.
func TestOpencode(t *testing.T) {
	requireSuite(t)
	for _, p := range []struct{ provider, api string }{{"modelbar", "openai"}, {"modelbar-anthropic", "anthropic"}} {
		each(t, p.provider, p.api, clientCase{
			client: "opencode", opts: agentOpts, bin: "opencode", wantModel: "e2e-model",
			args: func(r invocation) []string {
				return []string{"run", "-m", p.provider + "/" + agentOpts.Model, "--auto", r.Prompt}
			},
			env: opencodeIsolation,
		})
	}
}

// opencodeIsolation: no update check, no models.dev catalogue, no sharing,
// no language-server downloads (plugins come from the suite's 404 npm
// registry).
var opencodeIsolation = []string{
	"OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_MODELS_FETCH=1", "OPENCODE_DISABLE_SHARE=1",
	"OPENCODE_DISABLE_LSP_DOWNLOAD=1",
}

// TestContinue runs the Continue CLI, `cn -p`, with the rendered
// config.yaml: its first model (OpenAI API), and its second (Anthropic
// API), chosen the way cn's /model command stores a choice.
func TestContinue(t *testing.T) {
	requireSuite(t)
	for _, m := range []struct{ name, api, selected string }{{"openai", "openai", ""}, {"anthropic", "anthropic", "modelbar (Anthropic API)"}} {
		c := clientCase{
			client: "continue", opts: agentOpts, bin: "cn", wantModel: "e2e-model",
			args: func(r invocation) []string {
				return []string{"-p", "--config", r.Home + "/.continue/config.yaml", "--auto", r.Prompt}
			},
			env: continueIsolation(),
		}
		if m.selected != "" {
			c.files = map[string]string{".continue/index/globalContext.json": jsonString(map[string]any{"cliSelectedModel": m.selected})}
		}
		each(t, m.name, m.api, c)
	}
}

// continueIsolation: no auto-update (NODE_ENV=test), no telemetry, and
// no version check: cn 1.5.47 fetches https://api.continue.dev/cn/info
// with the machine's id at every start, and no setting turns that off,
// so a preload makes that one host name unresolvable inside the process.
func continueIsolation() []string {
	return []string{
		"NODE_ENV=test", "CONTINUE_CLI_ENABLE_TELEMETRY=0", "CONTINUE_METRICS_ENABLED=0",
		"NODE_OPTIONS=--require=" + filepath.Join(suite.dir, "testdata", "block-hosts.cjs"),
		"E2E_BLOCK_HOSTS=api.continue.dev",
	}
}

// TestQwenCode runs `qwen -p` configured by the rendered variables, with
// usage statistics, telemetry and update checks off in its settings.
func TestQwenCode(t *testing.T) {
	requireSuite(t)
	each(t, "openai", "openai", clientCase{
		client: "qwen-code", opts: agentOpts, bin: "qwen", wantModel: "e2e-model",
		args: func(r invocation) []string {
			return []string{"-p", r.Prompt, "--yolo"}
		},
		files: qwenSettings,
	})
}

// qwenSettings turn off Qwen Code's usage statistics, telemetry and
// update checks.
var qwenSettings = map[string]string{".qwen/settings.json": jsonString(map[string]any{
	"privacy":   map[string]any{"usageStatisticsEnabled": false},
	"telemetry": map[string]any{"enabled": false},
	"general":   map[string]any{"disableAutoUpdate": true, "disableUpdateNag": true},
})}

// TestPi runs `pi -p` with the rendered models.json's two providers.
func TestPi(t *testing.T) {
	requireSuite(t)
	for _, p := range []struct{ provider, api string }{{"modelbar", "openai"}, {"modelbar-anthropic", "anthropic"}} {
		each(t, p.provider, p.api, clientCase{
			client: "pi", opts: agentOpts, bin: "pi", wantModel: "e2e-model",
			args: func(r invocation) []string {
				return []string{"-p", "--model", p.provider + "/" + agentOpts.Model, "--no-session", r.Prompt}
			},
			env: piIsolation,
		})
	}
}

// piIsolation: no start-up network operation (update checks, install
// telemetry).
var piIsolation = []string{"PI_OFFLINE=1", "PI_TELEMETRY=0", "PI_SKIP_VERSION_CHECK=1"}

// TestInferenceKeys runs a text case of every command-line client against
// a modelbar that requires inference keys, configured with one where the
// rendered snippets put it.
func TestInferenceKeys(t *testing.T) {
	requireSuite(t)
	cases := map[string]clientCase{
		"claude-code": {bin: "claude", args: claudeArgs(""), env: claudeIsolation, answer: claudeAnswer, api: "anthropic"},
		"opencode": {bin: "opencode", env: opencodeIsolation, api: "openai", args: func(r invocation) []string {
			return []string{"run", "-m", "modelbar/" + agentOpts.Model, "--auto", r.Prompt}
		}},
		"continue": {bin: "cn", env: continueIsolation(), api: "openai", args: func(r invocation) []string {
			return []string{"-p", "--config", r.Home + "/.continue/config.yaml", "--auto", r.Prompt}
		}},
		"qwen-code": {bin: "qwen", files: qwenSettings, api: "openai", args: func(r invocation) []string { return []string{"-p", r.Prompt} }},
		"pi": {bin: "pi", env: piIsolation, api: "anthropic", args: func(r invocation) []string {
			return []string{"-p", "--model", "modelbar-anthropic/" + agentOpts.Model, "--no-session", r.Prompt}
		}},
	}
	for _, id := range []string{"claude-code", "opencode", "continue", "qwen-code", "pi"} {
		c := cases[id]
		c.client, c.gateway, c.kind, c.opts = id, "keyed", "text", agentOpts
		t.Run(id, c.run)
	}
}

// TestCodex runs `codex exec` with the rendered ~/.codex/config.toml
// (CODEX_HOME points at it) through both gateways: the OpenAI fake has no
// /v1/responses, so modelbar learns that and translates to chat
// completions; the Anthropic fake is translated to from the start.
func TestCodex(t *testing.T) {
	requireSuite(t)
	each(t, "modelbar", "responses", clientCase{
		client: "codex", opts: agentOpts, bin: "codex", wantModel: "e2e-model", timeout: 3 * time.Minute,
		args: func(r invocation) []string {
			return append([]string{"exec", "--skip-git-repo-check", "--cd", r.Work}, append(codexIsolation, r.Prompt)...)
		},
		env: []string{"CODEX_HOME=" + "$HOME/.codex"},
	})
}

// codexIsolation: no plugin or app catalogue (github.com, chatgpt.com), no
// metrics (ab.chatgpt.com), no update check, and
// no sandbox helper (it refuses temporary directories); as -c overrides,
// so the rendered config.toml stays as the README shows it.
var codexIsolation = []string{
	"-c", "features.plugins=false", "-c", "features.apps=false", "-c", `sandbox_mode="danger-full-access"`,
	"-c", `approval_policy="never"`, "-c", "check_for_update_on_startup=false", "-c", "analytics.enabled=false",
}

// TestCodexLocal runs `codex exec --json` through a modelbar whose route
// sends every model to the local engine's generated model (random weights:
// its answer is noise, and it makes no tool call, whose syntax its chat
// template does not have; Codex's tools reach the engine and are not
// rendered). The check is that the exchange completes: Codex exits 0 with
// a completed turn and a final agent message (none when the model ended
// its turn at once: see writeLocalModel), and its /v1/responses requests
// were answered by the local backend.
func TestCodexLocal(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	c := clientCase{client: "codex", gateway: "local", opts: agentOpts}
	id := caseID(t)
	s := c.session(t)
	res := s.exec(3*time.Minute, filepath.Join(suite.dir, "node_modules", ".bin", "codex"),
		append([]string{"exec", "--json", "--skip-git-repo-check", "--cd", s.work}, append(codexIsolation, prompt("text", id))...)...)
	problems := res.problems()
	var completed, message bool
	output := 0
	for _, line := range strings.Split(res.stdout, "\n") {
		var ev struct {
			Type string `json:"type"`
			Item struct {
				Type string `json:"type"`
			} `json:"item"`
			Usage struct {
				OutputTokens int `json:"output_tokens"`
			} `json:"usage"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		switch {
		case ev.Type == "turn.completed":
			completed, output = true, ev.Usage.OutputTokens
		case ev.Type == "item.completed" && ev.Item.Type == "agent_message":
			message = true
		case ev.Type == "turn.failed" || ev.Type == "error":
			problems = append(problems, "codex reported "+cut(line, 1000))
		}
	}
	if !completed {
		problems = append(problems, "codex printed no turn.completed event")
	}
	if !message && output > 0 { // a model that ends its turn at once leaves no message
		problems = append(problems, fmt.Sprintf("codex printed no final agent_message (of %d output tokens)", output))
	}
	local := false
	for _, e := range suite.gws["local"].forCase(id) {
		if strings.HasPrefix(e.Path, "/v1/responses") && e.Status == 200 && e.Backend == "local" {
			local = true
		}
	}
	if !local {
		problems = append(problems, "no /v1/responses request of this case was answered 200 with X-Modelbar-Backend: local")
	}
	t.Logf("codex in %.1fs; %d output tokens", res.end.Sub(res.start).Seconds(), output)
	if len(problems) > 0 {
		t.Errorf("%s\n%s", strings.Join(problems, "\n"), res.debug(id))
	}
}
