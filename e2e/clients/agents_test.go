package clients

import (
	"fmt"
	"path/filepath"
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
