package connect

import (
	"net/url"
	"strings"
)

// Each function below renders one client's configuration in the format
// its current documentation gives; the clients the suite runs have also
// read it themselves (e2e/clients).

// claudeCode: environment variables (Claude Code's "LLM gateway" set-up).
// ANTHROPIC_AUTH_TOKEN goes out as Authorization: Bearer, which modelbar
// takes as an inference key.
func claudeCode(o Options) Client {
	env := []Env{{Name: "ANTHROPIC_BASE_URL", Value: o.BaseURL}, {Name: "ANTHROPIC_AUTH_TOKEN", Value: o.APIKey}}
	if o.Model != "" {
		for _, n := range []string{"ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL"} {
			env = append(env, Env{Name: n, Value: o.Model, Optional: true})
		}
		for _, n := range []string{"ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_SMALL_FAST_MODEL"} {
			env = append(env, Env{Name: n, Value: o.SmallModel, Optional: true})
		}
	}
	return Client{
		ID: "claude-code", Name: "Claude Code", APIs: []API{Anthropic}, Env: env, Run: "claude",
		OptionalEnv: "the model each of its tiers asks for",
		Note: "Leave `ANTHROPIC_API_KEY` unset: it would win over the token. Without the optional variables Claude Code " +
			"asks for Claude models by their own names (`opus`, `sonnet`, `claude-…`), which a `claude-*` route takes; " +
			"with them each of its tiers asks for the model named, whichever provider its route goes to.",
		Tested: "`claude -p` with its default model, `--model opus`, `sonnet`, `claude-sonnet-4-5`, and the model variables, " +
			"through an Anthropic provider (relayed) and an OpenAI one (translated): a text answer and a Bash tool round trip each",
	}
}

// codex: ~/.codex/config.toml with a model provider; Codex speaks only the
// Responses API.
func codex(o Options) Client {
	toml := "model = " + quoteJSON(o.model()) + "\n" +
		"model_provider = \"modelbar\"\n\n" +
		"[model_providers.modelbar]\n" +
		"name = \"modelbar\"\n" +
		"base_url = " + quoteJSON(o.v1()) + "\n" +
		"wire_api = \"responses\"\n" +
		"env_key = \"MODELBAR_API_KEY\"\n"
	return Client{
		ID: "codex", Name: "Codex CLI", APIs: []API{Responses},
		Env:   []Env{{Name: "MODELBAR_API_KEY", Value: o.APIKey}},
		Files: []File{{Path: "~/.codex/config.toml", Format: "toml", Content: toml}},
		Run:   "codex",
		Note: "Codex speaks only OpenAI's Responses API (`/v1/responses`): modelbar relays it to providers that have it " +
			"and translates it for the others (chat-only OpenAI-API servers, Anthropic, local models); see \"Responses API\". " +
			"Set `MODELBAR_API_KEY` only when inference keys are on. `codex exec` with `-c analytics.enabled=false` " +
			"sends no metrics to ab.chatgpt.com.",
		Tested: "`codex exec` through a chat-only OpenAI provider (modelbar learns it has no Responses API and translates) " +
			"and an Anthropic one: a text answer and a shell tool round trip each; and through the local engine " +
			"(a generated random-weight model, whose chat template has no tool syntax): the turn completes with a final answer",
	}
}

// opencode: a custom provider in opencode.json, one through the AI SDK's
// OpenAI-compatible package (chat completions) and one through its
// Anthropic package.
func opencode(o Options) Client {
	models := obj{{o.model(), obj{}}}
	if o.smallModel() != o.model() {
		models = append(models, kv{o.smallModel(), obj{}})
	}
	options := obj{{"baseURL", o.v1()}, {"apiKey", o.APIKey}}
	cfg := obj{
		{"$schema", "https://opencode.ai/config.json"},
		{"provider", obj{
			{"modelbar", obj{{"npm", "@ai-sdk/openai-compatible"}, {"name", "modelbar"}, {"options", options}, {"models", models}}},
			{"modelbar-anthropic", obj{{"npm", "@ai-sdk/anthropic"}, {"name", "modelbar (Anthropic API)"}, {"options", options},
				{"models", obj{{o.model(), obj{}}}}}},
		}},
		{"model", "modelbar/" + o.model()},
		{"small_model", "modelbar/" + o.smallModel()},
	}
	return Client{
		ID: "opencode", Name: "opencode", APIs: []API{OpenAI, Anthropic},
		Files: []File{{Path: "~/.config/opencode/opencode.json", Format: "json", Content: jsonText(cfg)}},
		Run:   "opencode",
		Note: "`modelbar/…` models go over the OpenAI API, `modelbar-anthropic/…` over the Anthropic API " +
			"(`opencode -m modelbar-anthropic/" + o.model() + "`); not `@ai-sdk/openai`, which speaks the Responses API. " +
			"At start opencode fetches its model catalogue and checks for updates unless `OPENCODE_DISABLE_MODELS_FETCH=1` " +
			"and `OPENCODE_DISABLE_AUTOUPDATE=1`.",
		Tested: "`opencode run` with both providers, through an OpenAI and an Anthropic provider: " +
			"a text answer and a bash tool round trip each",
	}
}

// continueDev: ~/.continue/config.yaml, read by the Continue CLI (cn) and
// the VS Code and JetBrains extensions.
func continueDev(o Options) Client {
	y := "name: modelbar\nversion: 1.0.0\nschema: v1\nmodels:\n" +
		continueModel("modelbar", "openai", o.model(), o.v1(), o.APIKey) +
		continueModel("modelbar (Anthropic API)", "anthropic", o.model(), o.v1()+"/", o.APIKey)
	return Client{
		ID: "continue", Name: "Continue", APIs: []API{OpenAI, Anthropic},
		Files: []File{{Path: "~/.continue/config.yaml", Format: "yaml", Content: y}},
		Run:   "cn",
		Note: "The CLI (`cn`) and the VS Code and JetBrains extensions read the same file; the first model is " +
			"the default, the second speaks the Anthropic API. The CLI (1.5) asks api.continue.dev for its latest " +
			"version at every start, with the machine's ID; no setting turns that off.",
		Tested: "`cn -p` with each model, through an OpenAI and an Anthropic provider: " +
			"a text answer and a Bash tool round trip each",
	}
}

func continueModel(name, provider, model, apiBase, key string) string {
	return "  - name: " + yamlScalar(name) + "\n" +
		"    provider: " + provider + "\n" +
		"    model: " + yamlScalar(model) + "\n" +
		"    apiBase: " + yamlScalar(apiBase) + "\n" +
		"    apiKey: " + yamlScalar(key) + "\n"
}

// qwenCode: the three variables that select its OpenAI auth type.
func qwenCode(o Options) Client {
	return Client{
		ID: "qwen-code", Name: "Qwen Code", APIs: []API{OpenAI},
		Env: []Env{{Name: "OPENAI_BASE_URL", Value: o.v1()}, {Name: "OPENAI_API_KEY", Value: o.APIKey},
			{Name: "OPENAI_MODEL", Value: o.model()}},
		Run: "qwen",
		Note: "It sends usage statistics unless `~/.qwen/settings.json` says " +
			"`{\"privacy\": {\"usageStatisticsEnabled\": false}}`.",
		Tested: "`qwen -p` through an OpenAI and an Anthropic provider: " +
			"a text answer and a run_shell_command tool round trip each",
	}
}

// pi: ~/.pi/agent/models.json, one provider per API.
func pi(o Options) Client {
	models := []any{obj{{"id", o.model()}}}
	if o.smallModel() != o.model() {
		models = append(models, obj{{"id", o.smallModel()}})
	}
	cfg := obj{{"providers", obj{
		{"modelbar", obj{{"baseUrl", o.v1()}, {"api", "openai-completions"}, {"apiKey", o.APIKey}, {"models", models}}},
		{"modelbar-anthropic", obj{{"baseUrl", o.BaseURL}, {"api", "anthropic-messages"}, {"apiKey", o.APIKey},
			{"models", []any{obj{{"id", o.model()}}}}}},
	}}}
	return Client{
		ID: "pi", Name: "pi", APIs: []API{OpenAI, Anthropic},
		Files: []File{{Path: "~/.pi/agent/models.json", Format: "json", Content: jsonText(cfg)}},
		Run:   "pi --model modelbar/" + o.model(),
		Note:  "`modelbar-anthropic/" + o.model() + "` speaks the Anthropic API.",
		Tested: "`pi -p` with both providers, through an OpenAI and an Anthropic provider: " +
			"a text answer and a bash tool round trip each",
	}
}

// cline: its settings screen (the VS Code extension).
func cline(o Options) Client {
	return Client{
		ID: "cline", Name: "Cline", APIs: []API{OpenAI},
		Steps: []string{
			"API Provider: OpenAI Compatible",
			"Base URL: " + o.v1(),
			"API Key: " + o.APIKey,
			"Model ID: " + o.model(),
		},
		Note:     "In Cline's settings (the gear in its panel).",
		Untested: "an editor extension, which the suite cannot run headless",
	}
}

// zed: an OpenAI-compatible provider in Zed's settings.json; Zed reads its
// key from MODELBAR_API_KEY (the provider's name in upper snake case, then
// _API_KEY) or from its LLM Providers screen.
func zed(o Options) Client {
	cfg := obj{{"language_models", obj{{"openai_compatible", obj{{"modelbar", obj{
		{"api_url", o.v1()},
		{"available_models", []any{obj{{"name", o.model()}, {"display_name", o.model() + " (modelbar)"}, {"max_tokens", 128000}}}},
	}}}}}}}
	return Client{
		ID: "zed", Name: "Zed", APIs: []API{OpenAI},
		Env:      []Env{{Name: "MODELBAR_API_KEY", Value: o.APIKey}},
		Files:    []File{{Path: "~/.config/zed/settings.json", Format: "json", Content: jsonText(cfg)}},
		Note:     "Merge it into your settings. Zed reads the key from `MODELBAR_API_KEY` or from Settings → AI → LLM Providers; `max_tokens` is the context window Zed assumes.",
		Untested: "a desktop editor, which the suite cannot run headless",
	}
}

// xcode: Xcode 26's Intelligence settings take a locally hosted provider
// by port, or an internet-hosted one by URL with a key and its header.
func xcode(o Options) Client {
	steps := []string{"Xcode → Settings → Intelligence → Add a Model Provider…"}
	if o.APIKey == AnyKey {
		steps = append(steps, "Locally Hosted", "Port: "+port(o.BaseURL))
	} else {
		steps = append(steps, "Internet Hosted", "URL: "+o.BaseURL, "API Key: "+o.APIKey, "API Key Header: x-api-key")
	}
	note := "Xcode lists modelbar's models (`/v1/models`) and chats over the OpenAI API."
	if o.APIKey == AnyKey {
		note += " With inference keys on, add it as Internet Hosted instead: URL " + o.BaseURL +
			", API Key: your key, API Key Header: x-api-key."
	}
	return Client{
		ID: "xcode", Name: "Xcode", APIs: []API{OpenAI}, Steps: steps,
		Note:     note,
		Untested: "it runs only on macOS",
	}
}

// copilot: VS Code's Custom Endpoint provider for GitHub Copilot Chat.
func copilot(o Options) Client {
	cfg := []any{obj{
		{"name", "modelbar"},
		{"vendor", "customendpoint"},
		{"apiKey", o.APIKey},
		{"apiType", "chat-completions"},
		{"models", []any{obj{
			{"id", o.model()}, {"name", o.model() + " (modelbar)"}, {"url", o.v1() + "/chat/completions"},
			{"toolCalling", true}, {"vision", true}, {"maxInputTokens", 128000}, {"maxOutputTokens", 16384},
		}}},
	}}
	return Client{
		ID: "copilot", Name: "GitHub Copilot (VS Code)", APIs: []API{OpenAI},
		Files: []File{{Path: "~/Library/Application Support/Code/User/chatLanguageModels.json", Format: "json", Content: jsonText(cfg)}},
		Steps: []string{"Command Palette → Chat: Manage Language Models → Add Models → Custom Endpoint", "API type: Chat Completions; VS Code then opens the file below"},
		Note: "Copilot Chat's Custom Endpoint provider; a key entered in VS Code's prompt is kept in its secret " +
			"storage instead of the file.",
		Untested: "an editor extension, which the suite cannot run headless",
	}
}

// aiSDK: a module that makes one provider per API.
func aiSDK(o Options) Client {
	js := "// npm i ai @ai-sdk/openai-compatible @ai-sdk/anthropic @ai-sdk/openai\n" +
		"import { createOpenAICompatible } from '@ai-sdk/openai-compatible';\n" +
		"import { createAnthropic } from '@ai-sdk/anthropic';\n" +
		"import { createOpenAI } from '@ai-sdk/openai';\n\n" +
		"// OpenAI API (chat completions): modelbar(" + jsString(o.model()) + ")\n" +
		"export const modelbar = createOpenAICompatible({\n" +
		"  name: 'modelbar',\n" +
		"  baseURL: " + jsString(o.v1()) + ",\n" +
		"  apiKey: " + jsString(o.APIKey) + ",\n" +
		"});\n\n" +
		"// Anthropic API (messages): modelbarAnthropic(" + jsString(o.model()) + ")\n" +
		"export const modelbarAnthropic = createAnthropic({\n" +
		"  baseURL: " + jsString(o.v1()) + ",\n" +
		"  apiKey: " + jsString(o.APIKey) + ",\n" +
		"});\n\n" +
		"// @ai-sdk/openai: modelbarOpenAI(" + jsString(o.model()) + ") (Responses API) or modelbarOpenAI.chat(" + jsString(o.model()) + ")\n" +
		"export const modelbarOpenAI = createOpenAI({\n" +
		"  baseURL: " + jsString(o.v1()) + ",\n" +
		"  apiKey: " + jsString(o.APIKey) + ",\n" +
		"});\n"
	return Client{
		ID: "ai-sdk", Name: "AI SDK", APIs: []API{OpenAI, Anthropic},
		Files: []File{{Path: "modelbar.mjs", Format: "js", Content: js}},
		Note: "Then `generateText({ model: modelbar(" + jsString(o.model()) + "), prompt })`. `modelbarOpenAI(model)` " +
			"uses the Responses API, `modelbarOpenAI.chat(model)` chat completions.",
		Tested: "the four providers (with modelbarOpenAI both ways) through an OpenAI and an Anthropic provider: " +
			"text (whole and streamed), a tool round trip and structured output",
	}
}

// openaiSDK: the official SDKs read both variables; the examples make one
// call with nothing else configured.
func openaiSDK(o Options) Client {
	py := "# pip install openai\n" +
		"from openai import OpenAI\n\n" +
		"client = OpenAI()  # reads OPENAI_BASE_URL and OPENAI_API_KEY\n" +
		"r = client.chat.completions.create(model=" + quoteJSON(o.model()) + ", messages=[{\"role\": \"user\", \"content\": \"Hello\"}])\n" +
		"print(r.choices[0].message.content)\n"
	js := "// npm i openai\n" +
		"import OpenAI from 'openai';\n\n" +
		"const client = new OpenAI(); // reads OPENAI_BASE_URL and OPENAI_API_KEY\n" +
		"const r = await client.chat.completions.create({ model: " + jsString(o.model()) + ", messages: [{ role: 'user', content: 'Hello' }] });\n" +
		"console.log(r.choices[0].message.content);\n"
	return Client{
		ID: "openai-sdk", Name: "OpenAI SDKs", APIs: []API{OpenAI},
		Env:   []Env{{Name: "OPENAI_BASE_URL", Value: o.v1()}, {Name: "OPENAI_API_KEY", Value: o.APIKey}},
		Files: []File{{Path: "hello.py", Format: "python", Content: py}, {Path: "hello.mjs", Format: "js", Content: js}},
		Note:  "The Python and JavaScript SDKs read both (`new OpenAI()`, `OpenAI()`); `chat.completions` and `responses` both work (see \"Responses API\").",
		Tested: "the JavaScript SDK configured by these variables alone, through an OpenAI (chat-only) and an " +
			"Anthropic provider: chat completions (a streamed text answer and a tool round trip) and the Responses API " +
			"(`responses.create`, `responses.stream`, a function tool round trip and structured output by `text.format`)",
	}
}

// anthropicSDK: the official SDKs read both variables; the examples make
// one call with nothing else configured.
func anthropicSDK(o Options) Client {
	py := "# pip install anthropic\n" +
		"import anthropic\n\n" +
		"client = anthropic.Anthropic()  # reads ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY\n" +
		"m = client.messages.create(model=" + quoteJSON(o.model()) + ", max_tokens=1024, messages=[{\"role\": \"user\", \"content\": \"Hello\"}])\n" +
		"print(m.content[0].text)\n"
	js := "// npm i @anthropic-ai/sdk\n" +
		"import Anthropic from '@anthropic-ai/sdk';\n\n" +
		"const client = new Anthropic(); // reads ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY\n" +
		"const m = await client.messages.create({ model: " + jsString(o.model()) + ", max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }] });\n" +
		"console.log(m.content[0].text);\n"
	return Client{
		ID: "anthropic-sdk", Name: "Anthropic SDKs", APIs: []API{Anthropic},
		Env:   []Env{{Name: "ANTHROPIC_BASE_URL", Value: o.BaseURL}, {Name: "ANTHROPIC_API_KEY", Value: o.APIKey}},
		Files: []File{{Path: "hello.py", Format: "python", Content: py}, {Path: "hello.mjs", Format: "js", Content: js}},
		Note:  "The Python and TypeScript SDKs read both (`new Anthropic()`, `Anthropic()`).",
		Tested: "the TypeScript SDK configured by these variables alone, through an Anthropic and an " +
			"OpenAI provider: a streamed text answer and a tool round trip",
	}
}

// cursor: Cursor's model settings take an OpenAI base URL, but Cursor
// sends every model request from its own servers, which cannot reach a
// server on this machine: the note says so before anyone tries.
func cursor(o Options) Client {
	return Client{
		ID: "cursor", Name: "Cursor", APIs: []API{OpenAI},
		Steps: []string{
			"Cursor Settings → Models → API Keys",
			"OpenAI API Key: " + o.APIKey,
			"Override OpenAI Base URL: " + o.v1(),
			"Add Custom Model: " + o.model(),
		},
		Note: "These settings do not reach modelbar on this machine: Cursor sends every model request from its own " +
			"servers, which cannot reach `127.0.0.1` or your LAN, and modelbar answers only to its own addresses. " +
			"In Cursor, use its own models; for modelbar's, use a client that calls from your machine " +
			"(Continue, Cline, Copilot's Custom Endpoint, Zed, the command-line agents above).",
		Untested: "Cursor's servers cannot reach a local modelbar",
	}
}

// curl: one request to each API, the smallest check that modelbar answers
// and that a model name routes.
func curl(o Options) Client {
	msg := `[{"role":"user","content":"Hello"}]`
	openai := "curl -s " + shellWord(o.v1()+"/chat/completions") + " \\\n" +
		"  -H " + shellWord("Authorization: Bearer "+o.APIKey) + " -H 'Content-Type: application/json' \\\n" +
		"  -d " + shellWord(`{"model":`+quoteJSON(o.model())+`,"messages":`+msg+`}`) + "\n"
	anthropic := "curl -s " + shellWord(o.v1()+"/messages") + " \\\n" +
		"  -H " + shellWord("x-api-key: "+o.APIKey) + " -H 'anthropic-version: 2023-06-01' -H 'Content-Type: application/json' \\\n" +
		"  -d " + shellWord(`{"model":`+quoteJSON(o.model())+`,"max_tokens":256,"messages":`+msg+`}`)
	return Client{
		ID: "curl", Name: "curl", APIs: []API{OpenAI, Anthropic},
		Run:  "# OpenAI API\n" + openai + "# Anthropic API\n" + anthropic,
		Note: "Each prints the answer as JSON; add `\"stream\":true` to the body for server-sent events.",
		Tested: "both commands, run by `sh` as shown, through an OpenAI-compatible provider " +
			"(the Anthropic one translated)",
		TestedBy: "the browser suite (frontend/e2e)",
	}
}

// port is the port of a base URL, or its scheme's default.
func port(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "11500"
	}
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}
