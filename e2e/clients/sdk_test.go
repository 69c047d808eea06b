package clients

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/connect"
)

// The SDKs run as Node scripts (testdata/*.mjs), one process per gateway
// that makes every check in turn and prints a JSON line for each.

// scriptCheck is one check a script makes.
type scriptCheck struct {
	Name     string `json:"name"`
	Provider string `json:"provider"` // which of the script's clients
	Kind     string `json:"kind"`     // text, stream, tool, object
	ID       string `json:"id"`
	Prompt   string `json:"prompt"`
	api      string
}

type scriptResult struct {
	Name  string `json:"name"`
	ID    string `json:"id"`
	Text  string `json:"text"`
	Error string `json:"error"`
}

var sdkOpts = connect.Options{Model: "e2e-sdk-model"}

// TestAISDK drives the AI SDK's providers, as the rendered modelbar.mjs
// makes them: createOpenAICompatible, createAnthropic, and createOpenAI's
// .chat(model) (chat completions) and (model) (the Responses API).
func TestAISDK(t *testing.T) {
	requireSuite(t)
	var checks []scriptCheck
	for _, p := range []struct{ provider, api string }{{"openai-compatible", "openai"}, {"anthropic", "anthropic"}, {"openai-chat", "openai"}, {"openai-responses", "responses"}} {
		for _, kind := range []string{"text", "stream", "tool", "object"} {
			checks = append(checks, scriptCheck{Provider: p.provider, Kind: kind, api: p.api})
		}
	}
	runScript(t, "ai-sdk", "aisdk.mjs", checks)
}

// TestOpenAISDK drives the OpenAI SDK configured by the rendered variables:
// its chat completions client, and its Responses client (responses.create,
// responses.stream, a function tool round trip, text.format json_schema).
func TestOpenAISDK(t *testing.T) {
	requireSuite(t)
	checks := []scriptCheck{
		{Provider: "openai", Kind: "stream", api: "openai"}, {Provider: "openai", Kind: "tool", api: "openai"},
	}
	for _, kind := range []string{"text", "stream", "tool", "object"} {
		checks = append(checks, scriptCheck{Provider: "responses", Kind: kind, api: "responses"})
	}
	runScript(t, "openai-sdk", "openai-sdk.mjs", checks)
}

// TestAnthropicSDK drives the Anthropic SDK configured by the rendered
// variables.
func TestAnthropicSDK(t *testing.T) {
	requireSuite(t)
	runScript(t, "anthropic-sdk", "anthropic-sdk.mjs", []scriptCheck{
		{Provider: "anthropic", Kind: "stream", api: "anthropic"}, {Provider: "anthropic", Kind: "tool", api: "anthropic"},
	})
}

func runScript(t *testing.T, client, script string, checks []scriptCheck) {
	for _, gw := range []string{"openai", "anthropic"} {
		t.Run("to-"+gw, func(t *testing.T) {
			t.Parallel()
			c := clientCase{client: client, gateway: gw, opts: sdkOpts}
			s := c.session(t)
			// The rendered module imports the SDK's packages.
			if err := os.Symlink(filepath.Join(suite.dir, "node_modules"), filepath.Join(s.work, "node_modules")); err != nil {
				t.Fatal(err)
			}
			mine := make([]scriptCheck, len(checks))
			for i, ch := range checks {
				ch.Name = fmt.Sprintf("%s/%s/%s", ch.Provider, pathName(gw, ch.api), ch.Kind)
				ch.ID = fmt.Sprintf("%s-%s-%s-%d", client, gw, strings.ReplaceAll(ch.Name, "/", "-"), caseSeq.Add(1))
				tagKind := map[string]string{"text": "text", "stream": "text", "tool": "tool", "object": "object"}[ch.Kind]
				ch.Prompt = prompt(tagKind, ch.ID)
				if ch.Kind == "object" {
					ch.Prompt = "[[e2e:object:" + ch.ID + "]] Fill in the object."
				}
				cases.Store(ch.ID, s.work)
				mine[i] = ch
			}
			spec := map[string]any{"module": filepath.Join(s.work, "modelbar.mjs"), "model": sdkOpts.Model, "checks": mine}
			res := s.exec(0, suite.node, filepath.Join(suite.dir, "testdata", script), jsonString(spec))
			if p := res.problems(); len(p) > 0 {
				t.Errorf("%s\n%s", strings.Join(p, "\n"), res.debug(""))
			}
			got := map[string]scriptResult{}
			sc := bufio.NewScanner(strings.NewReader(res.stdout))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var r scriptResult
				if json.Unmarshal(sc.Bytes(), &r) == nil && r.ID != "" {
					got[r.ID] = r
				}
			}
			for _, ch := range mine {
				t.Run(ch.Name, func(t *testing.T) { checkScript(t, ch, gw, s.work, got, res) })
			}
		})
	}
}

func checkScript(t *testing.T, ch scriptCheck, gw, work string, got map[string]scriptResult, res result) {
	r, ok := got[ch.ID]
	if !ok {
		t.Fatalf("the script printed no result for this check\n%s", res.debug(ch.ID))
	}
	if r.Error != "" {
		t.Errorf("failed: %s\n%s", cut(r.Error, 3000), res.debug(ch.ID))
		return
	}
	kind := map[string]string{"text": "text", "stream": "text", "tool": "tool", "object": ""}[ch.Kind]
	problems := clientCase{gateway: gw, kind: kind, api: ch.api}.check(ch.ID, work, r.Text)
	if ch.Kind == "object" {
		var obj struct {
			Marker string  `json:"marker"`
			Count  float64 `json:"count"`
		}
		if err := json.Unmarshal([]byte(r.Text), &obj); err != nil || obj.Marker != objMarker(ch.ID) || obj.Count != 3 {
			problems = append(problems, fmt.Sprintf("the object is %s, want marker %q and count 3", r.Text, objMarker(ch.ID)))
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s\n%s", strings.Join(problems, "\n"), res.debug(ch.ID))
	}
}
