package engine

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/grammar"
	"github.com/modelbar/modelbar/backend/engine/grammar/grammartest"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tokenizer"
	"github.com/modelbar/modelbar/backend/protocol"
)

// structuredSchemas are the output schemas of the property tests.
var structuredSchemas = []string{
	``, // json_object: any object
	`{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"},"ok":{"type":"boolean"}},"required":["name","age","ok"],"additionalProperties":false}`,
	`{"type":"object","properties":{"kind":{"enum":["cat","dog","bird"]},"tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":3},"score":{"type":["number","null"]}},"required":["kind","tags","score"],"additionalProperties":false}`,
	`{"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"},"v":{"anyOf":[{"type":"string"},{"type":"number"}]}},"required":["id"]}}},"required":["items"]}`,
	`{"$defs":{"P":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"],"additionalProperties":false}},"type":"object","properties":{"from":{"$ref":"#/$defs/P"},"to":{"$ref":"#/$defs/P"}},"required":["from","to"],"additionalProperties":false}`,
}

// Every answer a generated model with random weights samples under an
// output schema parses and validates: over many seeds, at temperature 1,
// with budgets tight enough that many answers must be steered to their
// end before the budget runs out.
func TestChat_StructuredOutputValidates(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"qwen": smallSpec(5)})
	one := 1.0
	for si, schema := range structuredSchemas {
		for seed := int64(0); seed < 100; seed++ {
			r := userSays("test/qwen", "Give me JSON.", 48+int(seed%4)*8)
			r.Temperature, r.Seed = &one, &seed
			r.Output = &protocol.OutputFormat{Schema: json.RawMessage(schema)}
			evs, err := chat(t, e, r)
			if err != nil {
				t.Fatalf("schema %d seed %d: %v", si, seed, err)
			}
			res, err := protocol.Aggregate(evs)
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			for _, b := range res.Content {
				if b.Type != protocol.BlockText {
					t.Fatalf("schema %d seed %d: a %s block in a structured answer", si, seed, b.Type)
				}
				text.WriteString(b.Text)
			}
			if err := grammartest.Validate([]byte(schema), []byte(text.String())); err != nil {
				t.Fatalf("schema %d seed %d (%d tokens, %s): %q: %v", si, seed, res.Usage.OutputTokens, res.StopReason, text.String(), err)
			}
			if seed < 2 {
				t.Logf("schema %d seed %d: %s", si, seed, text.String())
			}
			if res.StopReason != protocol.StopEndTurn {
				t.Errorf("schema %d seed %d: stop reason %s, want end_turn (the document is finished within the budget)", si, seed, res.StopReason)
			}
		}
	}
}

// A Hermes-family model offered tools writes calls whose arguments follow
// the tool's schema: the text around calls is free, each call's JSON is
// constrained after its opening tag.
func TestCallConstraint_ConstrainsHermesCalls(t *testing.T) {
	tok := newTestTokenizer(t)
	tools := []grammar.Tool{
		{Name: "get_weather", Schema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"],"additionalProperties":false}`)},
		{Name: "noop"},
	}
	g, err := grammar.ToolCall(tools, "", "</tool_call>")
	if err != nil {
		t.Fatal(err)
	}
	vs := &vocabs{}
	c := newCallConstraint(g, vs.get(tok), tok)
	c.open = []byte("<tool_call>")
	logits := make([]float32, tok.VocabSize())
	// Free text, then the tag: nothing is masked.
	for _, id := range tok.Encode("Sure. <tool_call>", false) {
		for i := range logits {
			logits[i] = 1
		}
		c.Mask(logits, 100)
		for i, l := range logits {
			if l != 1 {
				t.Fatalf("token %d masked in free text", i)
			}
		}
		if err := c.Accept(id); err != nil {
			t.Fatal(err)
		}
	}
	if c.in == nil {
		t.Fatal("the opening tag did not start a constrained call")
	}
	good := "\n" + `{"name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}` + "\n</tool_call>"
	for _, id := range tok.Encode(good, false) {
		if err := c.Accept(id); err != nil {
			t.Fatalf("a valid call is refused at token %d: %v", id, err)
		}
	}
	if c.in != nil {
		t.Fatal("the closing tag did not end the call")
	}
	// A second call with arguments outside the schema is refused.
	for _, id := range tok.Encode(`<tool_call>{"name": "get_weather", "arguments": {"city": 1`, false) {
		if err := c.Accept(id); err != nil {
			if !strings.Contains(err.Error(), "does not continue") {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("a call with a number for a string argument was accepted")
}

func TestConstraint_UnsupportedSchemaIsAnError(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"qwen": {Architecture: "qwen2", Seed: 5}})
	r := userSays("test/qwen", "hi", 8)
	r.Output = &protocol.OutputFormat{Schema: json.RawMessage(`{"type":"object","properties":{"d":{"type":"string","format":"date"}}}`)}
	_, err := chat(t, e, r)
	var se *grammar.SchemaError
	if !errors.Is(err, ErrSchema) || !errors.As(err, &se) || se.Keyword != "format" || se.Path != "/properties/d" {
		t.Fatalf("error %v: want ErrSchema naming format at /properties/d", err)
	}
}

// newTestTokenizer is testmodel's byte-level tokenizer.
func newTestTokenizer(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Spec{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A model asked to call a tool (tool_choice required, or a named tool)
// starts its answer with a call whose arguments follow that tool's
// schema, in its family's syntax (Hermes' <tool_call> tags, Llama 3's bare
// JSON with "parameters"): over many seeds of a model with random
// weights, every answer has a tool_use block that validates.
func TestChat_ForcedToolCallsValidate(t *testing.T) {
	dir := t.TempDir()
	templates := map[string]string{
		"hermes": `{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>` +
			`Answer calls as <tool_call>{"name": ..., "arguments": ...}</tool_call>{% endif %}` + chatML,
		"llama3": `{% if tools %}Call a function with JSON {"name": ..., "parameters": ...}; its result comes as ipython.` +
			`{% for t in tools %}{{ t | tojson }}{% endfor %}{% endif %}` + chatML,
	}
	for name, tpl := range templates {
		model := filepath.Join(dir, "models", "test", name)
		if err := testmodel.Write(model, smallSpec(3)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(model, "chat_template.jinja"), []byte(tpl), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	e := New(Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 30, Backend: b})
	t.Cleanup(e.Close)

	weather := `{"type":"object","properties":{"city":{"type":"string","maxLength":16},"days":{"type":"integer"},"unit":{"enum":["c","f"]}},"required":["city","days"],"additionalProperties":false}`
	search := `{"type":"object","properties":{"q":{"type":"string"},"tags":{"type":"array","items":{"type":"string"},"maxItems":2}},"required":["q"]}`
	schemas := map[string]string{"get_weather": weather, "search": search}
	tools := []protocol.Tool{{Name: "get_weather", InputSchema: json.RawMessage(weather)}, {Name: "search", InputSchema: json.RawMessage(search)}}
	one := 1.0
	for seed := int64(0); seed < 100; seed++ {
		model := "test/hermes"
		if seed%4 >= 2 {
			model = "test/llama3"
		}
		r := userSays(model, "What is the weather in Oslo?", 80)
		r.Temperature, r.Seed, r.Tools = &one, &seed, tools
		r.ToolChoice = &protocol.ToolChoice{Mode: protocol.ToolChoiceRequired}
		if seed%2 == 1 {
			r.ToolChoice = &protocol.ToolChoice{Mode: protocol.ToolChoiceTool, Name: "search"}
		}
		evs, err := chat(t, e, r)
		if err != nil {
			t.Fatalf("%s seed %d: %v", model, seed, err)
		}
		res, err := protocol.Aggregate(evs)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Content) == 0 || res.Content[0].Type != protocol.BlockToolUse || res.StopReason != protocol.StopToolUse {
			t.Fatalf("%s seed %d: %+v: want a tool call first", model, seed, res)
		}
		call := res.Content[0]
		if seed%2 == 1 && call.Name != "search" {
			t.Fatalf("%s seed %d: called %s, want the named search", model, seed, call.Name)
		}
		if err := grammartest.Validate([]byte(schemas[call.Name]), call.Input); err != nil {
			t.Fatalf("%s seed %d: %s(%s): %v", model, seed, call.Name, call.Input, err)
		}
	}
}

// smallSpec is the smallest model the property tests sample from (many
// thousands of steps, also under -race): what matters is that its random
// weights would write anything.
func smallSpec(seed uint64) testmodel.Spec {
	return testmodel.Spec{Architecture: "qwen2", HiddenSize: 32, IntermediateSize: 64, NumLayers: 1, NumHeads: 2, NumKVHeads: 1, Seed: seed}
}

// A tool whose schema is outside the subset, or not an object's, is still
// offered: its calls are only made to be objects.
func TestCallTools_LoosensUnsupportedSchemas(t *testing.T) {
	r := protocol.Request{Tools: []protocol.Tool{
		{Name: "ok", InputSchema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}}}`)},
		{Name: "dated", InputSchema: json.RawMessage(`{"type":"object","properties":{"d":{"type":"string","format":"date"}}}`)},
		{Name: "scalar", InputSchema: json.RawMessage(`{"type":"string"}`)},
	}}
	got := callTools(r)
	if len(got) != 3 || got[0].Schema == nil || got[1].Schema != nil || got[2].Schema != nil {
		t.Fatalf("%+v", got)
	}
	g, err := grammar.ToolCall(got, "", "</tool_call>")
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher()
	if !m.Feed([]byte(`{"name":"dated","arguments":{"d":17}}</tool_call>`)) || !m.Done() {
		t.Error("a call of the loosened tool with any object is refused")
	}
}
