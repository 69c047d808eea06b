package clients

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// claudeIsolation turns off what Claude Code would send elsewhere:
// telemetry, error reports, the auto-updater, and every other
// non-essential request.
var claudeIsolation = []string{
	"DISABLE_TELEMETRY=1", "DISABLE_ERROR_REPORTING=1", "DISABLE_AUTOUPDATER=1",
	"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
}

// TestClaudeCode runs `claude -p` with its default model, the opus and
// sonnet aliases, an explicit older name, and the model variables the
// snippet renders, through modelbar to an Anthropic provider (relayed) and
// an OpenAI one (translated): a text answer, and a Bash tool round trip.
func TestClaudeCode(t *testing.T) {
	requireSuite(t)
	for _, model := range []string{"", "opus", "sonnet", "claude-sonnet-4-5", "snippet-models"} {
		for _, gw := range []string{"anthropic", "openai"} {
			for _, kind := range []string{"text", "tool"} {
				name := model
				if name == "" {
					name = "default"
				}
				c := clientCase{
					client: "claude-code", gateway: gw, kind: kind, bin: "claude", api: "anthropic",
					args:   claudeArgs(model),
					env:    claudeIsolation,
					answer: claudeAnswer,
				}
				switch {
				case strings.HasPrefix(model, "claude-"):
					c.wantModel = model
				case model == "snippet-models": // the rendered ANTHROPIC_MODEL and tier variables
					c.opts, c.args, c.wantModel = agentOpts, claudeArgs(""), agentOpts.Model
				}
				t.Run(fmt.Sprintf("%s/%s/%s", name, pathName(gw, "anthropic"), kind), c.run)
			}
		}
	}
}

// pathName says whether a client of API api is relayed or translated on
// the gateway routed to the provider of API gw.
func pathName(gw, api string) string {
	if api == "responses" {
		return "to-" + gw // translated, from the Responses API to the gateway's
	}
	if gw == api {
		return "relayed"
	}
	return "translated"
}

func claudeArgs(model string) func(invocation) []string {
	return func(r invocation) []string {
		args := []string{"-p", r.Prompt, "--output-format", "json", "--allowedTools", "Bash"}
		if model != "" {
			args = append(args, "--model", model)
		}
		return args
	}
}

// claudeAnswer reads `--output-format json`: one result object.
func claudeAnswer(stdout string) (string, error) {
	var res struct {
		Type    string `json:"type"`
		Subtype string `json:"subtype"`
		IsError bool   `json:"is_error"`
		Result  string `json:"result"`
	}
	s := strings.TrimSpace(stdout)
	if i := strings.LastIndex(s, "\n{"); i >= 0 {
		s = s[i+1:]
	}
	if err := json.Unmarshal([]byte(s), &res); err != nil {
		return stdout, fmt.Errorf("%w: %v", errNoAnswer, err)
	}
	if res.IsError {
		return res.Result, fmt.Errorf("claude reported an error (%s): %s", res.Subtype, cut(res.Result, 500))
	}
	return res.Result, nil
}
