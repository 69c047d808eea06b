package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/grammar/grammartest"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tokenizer"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
	"github.com/modelbar/modelbar/backend/protocol"
)

// The tools of the call property tests: one with a strict schema, one
// with optional and array arguments.
var (
	callSchemas = map[string]string{
		"get_weather": `{"type":"object","properties":{"city":{"type":"string","maxLength":16},"days":{"type":"integer"},"unit":{"enum":["c","f"]}},"required":["city","days"],"additionalProperties":false}`,
		"search":      `{"type":"object","properties":{"q":{"type":"string"},"tags":{"type":"array","items":{"type":"string"},"maxItems":2}},"required":["q"]}`,
	}
	callTestTools = []protocol.Tool{
		{Name: "get_weather", InputSchema: json.RawMessage(callSchemas["get_weather"])},
		{Name: "search", InputSchema: json.RawMessage(callSchemas["search"])},
	}
)

// biased is a model whose logits are its own (random weights) with some
// tokens raised, so that a property test meets calls often: a model with
// random weights would rarely sample a call's opening marker.
type biased struct {
	m    generate.Model
	bias func(step int, logits []float32)
	step int
}

func (b *biased) ContextLength() int { return b.m.ContextLength() }

func (b *biased) Forward(ctx context.Context, tokens []int) ([]float32, error) {
	logits, err := b.m.Forward(ctx, tokens)
	if err == nil && b.bias != nil {
		b.bias(b.step, logits)
	}
	b.step++
	return logits, err
}

// sampleParts answers r as loaded.generate does — the model's prompt,
// constraint, stop tokens and family parser — with the model's logits
// biased, and returns what the parser read and the raw text.
func sampleParts(t *testing.T, e *Engine, r protocol.Request, bias func(step int, logits []float32)) ([]toolcall.Part, string) {
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
	opened := strings.HasSuffix(strings.TrimRight(prompt, "\n"), "<think>")
	constraint, err := l.constraint(r, toolNames(r), opened)
	if err != nil {
		t.Fatal(err)
	}
	parser := toolcall.NewParser(l.syntax, l.thinks, opened)
	seq, _, err := l.prefix.take(ids)
	if err != nil {
		t.Fatal(err)
	}
	defer l.prefix.put(seq, false)
	var parts []toolcall.Part
	var raw strings.Builder
	_, err = generate.Run(ctx, &biased{m: seq, bias: bias}, l.tok.NewDecoder(), l.tok.VocabSize(),
		generate.Request{Prompt: ids, MaxTokens: r.MaxTokens, StopTokens: l.stops, Sampling: sampling(r), Constraint: constraint},
		func(text string) error {
			raw.WriteString(text)
			parts = append(parts, parser.Add(text)...)
			return nil
		})
	if err != nil {
		t.Fatalf("%s: %v", raw.String(), err)
	}
	return append(parts, parser.Finish()...), raw.String()
}

// checkCalls fails the test for a call to a tool not offered or whose
// arguments do not validate, and returns the number of calls.
func checkCalls(t *testing.T, what string, parts []toolcall.Part, raw string) int {
	t.Helper()
	n := 0
	for _, p := range parts {
		if p.Kind != toolcall.Call {
			continue
		}
		n++
		schema, ok := callSchemas[p.Name]
		if !ok {
			t.Fatalf("%s: a call to %q, not an offered tool: %q", what, p.Name, raw)
		}
		if err := grammartest.Validate([]byte(schema), p.Arguments); err != nil {
			t.Fatalf("%s: %s(%s): %v\n%q", what, p.Name, p.Arguments, err, raw)
		}
	}
	return n
}

// textHolds fails the test when a text part holds marker: a call the
// model opened that did not parse.
func textHolds(t *testing.T, what string, parts []toolcall.Part, raw, marker string) {
	t.Helper()
	for _, p := range parts {
		if p.Kind == toolcall.Text && strings.Contains(p.Text, marker) {
			t.Fatalf("%s: a call that did not parse came back as text %q\n%q", what, p.Text, raw)
		}
	}
}

// raise returns a bias that adds by to id's logit from step from on.
func raise(id int, by float32, from int) func(int, []float32) {
	return func(step int, logits []float32) {
		if step >= from && id >= 0 && id < len(logits) && !math.IsInf(float64(logits[id]), -1) {
			logits[id] += by
		}
	}
}

// callEngine starts an engine on generated models with these chat
// templates over testmodel's tokenizer plus the added special tokens,
// each model's vocabulary covering them (so that it can sample them).
func callEngine(t *testing.T, models map[string]string, added []string) *Engine {
	t.Helper()
	dir := t.TempDir()
	for name, tpl := range models {
		model := filepath.Join(dir, "models", "test", name)
		spec := smallSpec(3)
		spec.VocabSize = testmodel.TokenizerSize + len(added)
		if err := testmodel.Write(model, spec); err != nil {
			t.Fatal(err)
		}
		addTokens(t, model, added)
		if err := os.WriteFile(filepath.Join(model, "chat_template.jinja"), []byte(tpl), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	e := New(Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 30, Backend: b})
	t.Cleanup(e.Close)
	return e
}

// familyModels writes a generated model per family (real tokenizer and
// template, as TestFamilies has them) whose vocabulary covers the
// tokenizer's, so that it samples the family's special tokens.
func familyModels(t *testing.T, names ...string) *Engine {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		f := families[name]
		if why := missingFiles(f); why != "" {
			t.Skip(why)
		}
		model := filepath.Join(dir, "models", "test", name)
		writeFamily(t, model, f)
		tok, err := tokenizer.Load(model)
		if err != nil {
			t.Fatal(err)
		}
		spec := smallSpec(7)
		spec.VocabSize = tok.VocabSize()
		resizeVocab(t, model, spec)
	}
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	e := New(Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 32, Backend: b})
	t.Cleanup(e.Close)
	return e
}

// resizeVocab rewrites a family model's weights for spec, keeping its
// tokenizer, template and end of sequence.
func resizeVocab(t *testing.T, dir string, spec testmodel.Spec) {
	t.Helper()
	keep := map[string][]byte{}
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json", modelfile.ConfigFile, modelfile.GenerationConfigFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		keep[name] = b
	}
	var cfg map[string]any
	if err := json.Unmarshal(keep[modelfile.ConfigFile], &cfg); err != nil {
		t.Fatal(err)
	}
	if err := testmodel.Write(dir, spec); err != nil {
		t.Fatal(err)
	}
	for name, b := range keep {
		if name == modelfile.ConfigFile {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	editJSON(t, filepath.Join(dir, modelfile.ConfigFile), func(m map[string]any) {
		m["eos_token_id"] = cfg["eos_token_id"]
		delete(m, "bos_token_id")
	})
}

func callRequest(model string, seed int64, maxTokens int, choice *protocol.ToolChoice) protocol.Request {
	one := 1.0
	r := userSays(model, "What is the weather in Oslo?", maxTokens)
	// top_p 1: the nucleus sort of a large vocabulary would be most of
	// the test's time.
	r.Temperature, r.TopP, r.Seed, r.Tools, r.ToolChoice = &one, &one, &seed, callTestTools, choice
	return r
}

// choiceFor alternates required and a named tool over seeds.
func choiceFor(seed int64) *protocol.ToolChoice {
	if seed%2 == 1 {
		return &protocol.ToolChoice{Mode: protocol.ToolChoiceTool, Name: "search"}
	}
	return &protocol.ToolChoice{Mode: protocol.ToolChoiceRequired}
}

// forcedFirstCall checks an answer to a forced call: its first tool_use
// block is the call (after any thinking), to the named tool when one was
// named, and validates.
func forcedFirstCall(t *testing.T, what string, res protocol.Response, seed int64) {
	t.Helper()
	for _, b := range res.Content {
		switch b.Type {
		case protocol.BlockThinking:
			continue
		case protocol.BlockToolUse:
			if seed%2 == 1 && b.Name != "search" {
				t.Fatalf("%s: called %s, want the named search", what, b.Name)
			}
			if err := grammartest.Validate([]byte(callSchemas[b.Name]), b.Input); err != nil {
				t.Fatalf("%s: %s(%s): %v", what, b.Name, b.Input, err)
			}
			if res.StopReason != protocol.StopToolUse {
				t.Fatalf("%s: stop reason %s, want tool_use", what, res.StopReason)
			}
			return
		}
		t.Fatalf("%s: a %s block %q before the forced call: %+v", what, b.Type, b.Text, res.Content)
	}
	t.Fatalf("%s: no call in %+v (%s)", what, res.Content, res.StopReason)
}

func chatResponse(t *testing.T, e *Engine, r protocol.Request, what string) protocol.Response {
	t.Helper()
	evs, err := chat(t, e, r)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	res, err := protocol.Aggregate(evs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func seedName(family string, seed int64) string { return fmt.Sprintf("%s seed %d", family, seed) }

// hermesTools is the tool part of the Hermes test templates.
const hermesTools = `{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>` +
	`Answer calls as <tool_call>{"name": ..., "arguments": ...}</tool_call>{% endif %}`

// A Hermes model whose template opens a reasoning block (Qwen3's
// thinking templates) and that must call a tool reasons freely, closes
// the block, and then calls: over many seeds at temperature 1, the
// answer is thinking then a call that validates — whether the model
// closes the block itself or runs so close to its budget that the
// closing token is forced.
func TestChat_ForcedCallAfterOpenedThinking(t *testing.T) {
	tpl := hermesTools + `{% for m in messages %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
<think>
{% endif %}`
	e := callEngine(t, map[string]string{"qwen3": tpl}, []string{"<think>", "</think>"})
	closeID := testmodel.TokenizerSize + 1
	for seed := int64(0); seed < 100; seed++ {
		what := seedName("qwen3", seed)
		r := callRequest("test/qwen3", seed, 100+int(seed%3)*20, choiceFor(seed))
		if seed%3 == 0 {
			// Raise </think> now and then, so that many answers close
			// the block on their own, with budget to spare.
			parts, raw := sampleParts(t, e, r, raise(closeID, 4, 5))
			if seed < 4 {
				t.Logf("%s: %q", what, raw)
			}
			if n := checkCalls(t, what, parts, raw); n == 0 {
				t.Fatalf("%s: no call: %q", what, raw)
			}
			textHolds(t, what, parts, raw, "<tool_call>")
			if i := slices.IndexFunc(parts, func(p toolcall.Part) bool { return p.Kind != toolcall.Reasoning }); i < 1 || parts[i].Kind != toolcall.Call {
				t.Fatalf("%s: %+v, want reasoning then the call", what, parts)
			}
			continue
		}
		forcedFirstCall(t, what, chatResponse(t, e, r, what), seed)
	}
}

// at returns a bias that adds by to id's logit at step only.
func at(id int, by float32, step int) func(int, []float32) {
	r := raise(id, by, step)
	return func(s int, logits []float32) {
		if s == step {
			r(s, logits)
		}
	}
}

// Llama 3 models offered tools with tool_choice auto: an answer that
// starts a JSON object, or writes <|python_tag|>, is a call that parses
// and validates; other answers are free text. The model is nudged
// toward either start on some seeds (random weights rarely pick '{'
// first).
func TestChat_LlamaCallsOnItsOwnValidate(t *testing.T) {
	tpl := `{% if tools %}Call a function with JSON {"name": ..., "parameters": ...}, or after <|python_tag|>; its result comes as ipython.` +
		`{% for t in tools %}{{ t | tojson }}{% endfor %}{% endif %}` + chatML
	e := callEngine(t, map[string]string{"llama3": tpl}, []string{pythonTag})
	tag := testmodel.TokenizerSize
	brace := newTestTokenizer(t).Encode("{", false)[0]
	calls, texts := 0, 0
	for seed := int64(0); seed < 100; seed++ {
		what := seedName("llama3", seed)
		bias := map[int64]func(int, []float32){0: at(brace, 12, 0), 1: raise(tag, 5, 2)}[seed%3]
		parts, raw := sampleParts(t, e, callRequest("test/llama3", seed, 60+int(seed%4)*10, nil), bias)
		if seed < 3 {
			t.Logf("%s: %q", what, raw)
		}
		n := checkCalls(t, what, parts, raw)
		calls += n
		starts := strings.HasPrefix(strings.TrimLeft(raw, " \n\t"), "{")
		if (starts || strings.Contains(raw, pythonTag)) && n != 1 {
			t.Fatalf("%s: %d calls in %q: %+v", what, n, raw, parts)
		}
		if n == 0 {
			texts++
		}
	}
	if calls < 30 || texts < 10 {
		t.Errorf("%d calls and %d text answers: the test does not exercise both", calls, texts)
	}
}

// markedCallsProperty samples a family whose calls open with a special
// token: on some seeds the model is nudged toward the token (random
// weights rarely pick it) and every call it opens parses and validates,
// nothing of it left as text; on others a call is forced and is the
// answer's first block.
func markedCallsProperty(t *testing.T, family, open string, seeds int64) {
	e := familyModels(t, family)
	model := "test/" + family
	id := modelToken(t, e, model, open)
	calls := 0
	for seed := int64(0); seed < seeds; seed++ {
		what := seedName(family, seed)
		if seed%4 == 3 {
			forcedFirstCall(t, what, chatResponse(t, e, callRequest(model, seed, 80, choiceFor(seed)), what), seed)
			continue
		}
		parts, raw := sampleParts(t, e, callRequest(model, seed, 50+int(seed%3)*15, nil), raise(id, 12, 1))
		if seed < 2 {
			t.Logf("%s: %q", what, raw)
		}
		calls += checkCalls(t, what, parts, raw)
		textHolds(t, what, parts, raw, open)
	}
	if calls < int(seeds)*3/10 {
		t.Errorf("%d calls: the test does not exercise them", calls)
	}
}

// modelToken is the id of token s in the model's vocabulary.
func modelToken(t *testing.T, e *Engine, model, s string) int {
	t.Helper()
	m, release, err := e.pool.Acquire(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	id, ok := m.(*loaded).tok.TokenID(s)
	if !ok {
		t.Fatalf("%s is not a token of %s", s, model)
	}
	return id
}

// Mistral's [TOOL_CALLS] calls, on Mistral Nemo's tokenizer and template.
func TestChat_MistralCallsValidate(t *testing.T) {
	markedCallsProperty(t, "mixtral", mistralOpen, largeVocabSeeds())
}

// Phi-4-mini's <|tool_call|>[...]<|/tool_call|> calls, on its template
// and special tokens.
func TestChat_Phi4CallsValidate(t *testing.T) {
	markedCallsProperty(t, "phi4_mini", phiOpen, 100)
}

// script returns a bias that raises the tokens of text one per step from
// step 0, then then's token from the step after it on.
func script(ids []int, then int) func(int, []float32) {
	return func(step int, logits []float32) {
		switch {
		case step < len(ids):
			raise(ids[step], 30, 0)(step, logits)
		case step > len(ids)+1:
			raise(then, 9, 0)(step, logits)
		}
	}
}

// gpt-oss's harmony calls, on its tokenizer and template: the model is
// scripted into a call header (straight away, after an analysis message,
// or toward a recipient that is not offered) and what it writes from
// there — the recipient, the rest of the header, the arguments — is
// sampled under the constraint; every call parses and validates, and
// names an offered tool. Unscripted answers stay free, and forced calls
// start the answer.
func TestChat_HarmonyCallsValidate(t *testing.T) {
	e := familyModels(t, "gpt_oss")
	model := "test/gpt_oss"
	m, release, err := e.pool.Acquire(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	tok := m.(*loaded).tok
	release()
	message, _ := tok.TokenID("<|message|>")
	scripts := [][]int{
		tok.Encode("<|channel|>commentary to=functions.", false),
		tok.Encode("<|channel|>analysis<|message|>Need a tool.<|end|><|start|>assistant to=functions.", false),
		tok.Encode("<|channel|>commentary to=browser.search", false),
	}
	calls, seeds := 0, largeVocabSeeds()
	for seed := int64(0); seed < seeds; seed++ {
		what := seedName("gpt_oss", seed)
		if seed%4 == 3 {
			forcedFirstCall(t, what, chatResponse(t, e, callRequest(model, seed, 80, choiceFor(seed)), what), seed)
			continue
		}
		var bias func(int, []float32)
		budget := 30
		if seed%4 != 2 {
			bias, budget = script(scripts[seed%3], message), 70+int(seed%3)*10
		}
		parts, raw := sampleParts(t, e, callRequest(model, seed, budget, nil), bias)
		if seed < 3 {
			t.Logf("%s: %q", what, raw)
		}
		n := checkCalls(t, what, parts, raw)
		if bias != nil && n != 1 {
			t.Fatalf("%s: %d calls in %q: %+v", what, n, raw, parts)
		}
		calls += n
	}
	if calls < int(seeds)*4/10 {
		t.Errorf("%d calls: the test does not exercise them", calls)
	}
}

// largeVocabSeeds is the seeds of the property tests on a real
// vocabulary of 131k-201k tokens: 100, and 12 under the race detector,
// which would take minutes over them (every step reads the whole
// vocabulary in the output layer, the sampler and some masks).
func largeVocabSeeds() int64 {
	if raceEnabled {
		return 12
	}
	return 100
}
