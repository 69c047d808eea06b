package engine

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/grammar"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tokenizer"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
	"github.com/modelbar/modelbar/backend/protocol"
)

// Unit tests of the call constraints, token by token, on small
// vocabularies: each fails without the constraint it tests.

// unitVocab is a vocabulary for the constraints' unit tests: ids 0-127
// are the printable ASCII bytes (and \n, \t), then the tokens of
// unitTokens; special tokens have no bytes.
var unitTokens = []string{"{}", `{"`, "</think>", ">\n\n<tool_call>", ">x", "</think", "<stop>", "<open>", "<close>"}

const (
	uEmpty   = 128 + iota // {}
	uQuote                // {"
	uThink                // </think>
	uGoesOn               // >\n\n<tool_call>
	uBadRest              // >x
	uAlmost               // </think
	uStop                 // special
	uOpen                 // special
	uClose                // special
)

func unitVocab() *grammar.Vocab {
	return grammar.NewVocab(128+len(unitTokens), func(id int) []byte {
		switch {
		case id == '\n' || id == '\t' || (id >= ' ' && id < 127):
			return []byte{byte(id)}
		case id >= 128 && id < uStop:
			return []byte(unitTokens[id-128])
		}
		return nil
	})
}

var unitTool = []grammar.Tool{{Name: "f", Schema: json.RawMessage(`{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false}`)}}

// maskOf returns which tokens Mask leaves finite.
func maskOf(t *testing.T, c generate.Constraint, size, left int) map[int]bool {
	t.Helper()
	logits := make([]float32, size)
	if err := c.Mask(logits, left); err != nil {
		t.Fatal(err)
	}
	ok := map[int]bool{}
	for id, l := range logits {
		if !math.IsInf(float64(l), -1) {
			ok[id] = true
		}
	}
	return ok
}

func acceptText(t *testing.T, c generate.Constraint, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if err := c.Accept(int(s[i])); err != nil {
			t.Fatalf("%q at %d: %v", s, i, err)
		}
	}
}

// wantMask checks that the tokens of allowed are finite and those of
// masked are not.
func wantMask(t *testing.T, what string, got map[int]bool, allowed, masked []int) {
	t.Helper()
	for _, id := range allowed {
		if !got[id] {
			t.Errorf("%s: token %d masked", what, id)
		}
	}
	for _, id := range masked {
		if got[id] {
			t.Errorf("%s: token %d allowed", what, id)
		}
	}
}

// The gate of a forced call after an opened reasoning block: reasoning
// is free but cannot end the turn; a token that closes the block may go
// on only into the call (newlines, then <tool_call>); when the budget is
// down to the call, the closing token is forced.
func TestGate_ForcedCallAfterReasoning(t *testing.T) {
	v := unitVocab()
	fg, err := grammar.ToolCall(unitTool, hermesOpen, hermesClose)
	if err != nil {
		t.Fatal(err)
	}
	call := grammar.NewConstraint(fg.AfterNewlines(), v, nil)
	vs := &vocabs{}
	c := newCallConstraint(nil, v, nil)
	c.gate = &gate{mark: []byte(thinkClose), id: uThink, cands: vs.holding(v, '>'), stops: []int{uStop}, call: call, reserve: call.Dist(), v: v}
	size := v.Size()
	wantMask(t, "reasoning", maskOf(t, c, size, 100), []int{'a', '>', uThink, uAlmost}, []int{uStop})
	if err := c.Accept(uAlmost); err != nil {
		t.Fatal(err)
	}
	wantMask(t, "after </think", maskOf(t, c, size, 100), []int{'>', uGoesOn, 'a'}, []int{uBadRest, uStop})
	wantMask(t, "budget down to the call", maskOf(t, c, size, call.Dist()), []int{uThink}, []int{'a', '>', uGoesOn})
	if err := c.Accept(uGoesOn); err != nil {
		t.Fatal(err)
	}
	if c.gate != nil || c.in == nil {
		t.Fatal("closing the block did not start the call")
	}
	wantMask(t, "in the call", maskOf(t, c, size, 100), []int{'{', '\n'}, []int{'a', uStop})
	acceptText(t, c, `{"name":"f","arguments":{"x":1}}</tool_call>`)
	if c.in != nil || !c.Complete() {
		t.Fatal("the call did not end")
	}
}

// Llama 3 calls the model chooses: the answer's first non-space text, if
// it begins a JSON object, is a call, and so is what follows a
// <|python_tag|> token; other text stays free.
func TestCallConstraint_LlamaCallsOnItsOwn(t *testing.T) {
	v := unitVocab()
	g, err := grammar.Call(unitTool, "", "", "parameters")
	if err != nil {
		t.Fatal(err)
	}
	newC := func() *callConstraint {
		c := newCallConstraint(g, v, nil)
		c.last, c.ends, c.bare, c.openID = true, []int{uStop}, true, uOpen
		return c
	}
	size := v.Size()
	c := newC()
	wantMask(t, "first token", maskOf(t, c, size, 100), []int{'{', uQuote, 'a', ' ', uStop, uOpen}, []int{uEmpty})
	acceptText(t, c, " \n{")
	wantMask(t, "a bare call", maskOf(t, c, size, 100), []int{'"', ' '}, []int{'a', uStop})
	acceptText(t, c, `"name":"f","parameters":{"x":12}}`)
	if !c.Done() {
		t.Error("the call did not end the answer")
	}

	c = newC()
	acceptText(t, c, "Hi {")
	wantMask(t, "text", maskOf(t, c, size, 100), []int{'a', '}', uStop}, nil)
	if err := c.Accept(uOpen); err != nil {
		t.Fatal(err)
	}
	wantMask(t, "after <|python_tag|>", maskOf(t, c, size, 100), []int{'{'}, []int{'a', ' ', uStop})
}

// Calls opened by a special token: a forced call starts with it; the
// JSON array is constrained; then Phi-4-mini's closing token is forced,
// while Mistral's call ends the answer.
func TestCallConstraint_MarkedCalls(t *testing.T) {
	v := unitVocab()
	g, err := grammar.Calls(unitTool, "arguments")
	if err != nil {
		t.Fatal(err)
	}
	size := v.Size()
	phi := newCallConstraint(g, v, nil)
	phi.openID, phi.closeID, phi.force, phi.first = uOpen, uClose, uOpen, g
	wantMask(t, "forced", maskOf(t, phi, size, 100), []int{uOpen}, []int{'a', '[', uStop})
	if err := phi.Accept(uOpen); err != nil {
		t.Fatal(err)
	}
	wantMask(t, "after the opening token", maskOf(t, phi, size, 100), []int{'['}, []int{'{', ' ', uClose, uStop})
	acceptText(t, phi, `[{"name":"f","arguments":{"x":1}},{"name":"f","arguments":{"x":2}}]`)
	wantMask(t, "the JSON is whole", maskOf(t, phi, size, 100), []int{uClose}, []int{' ', ',', uStop})
	if err := phi.Accept(uClose); err != nil {
		t.Fatal(err)
	}
	wantMask(t, "text after the call", maskOf(t, phi, size, 100), []int{'a', uStop, uOpen}, nil)

	mistral := newCallConstraint(g, v, nil)
	mistral.openID, mistral.last, mistral.ends = uOpen, true, []int{uStop}
	wantMask(t, "no room for a call", maskOf(t, mistral, size, len(`[{"name":"f","arguments":{"x":0}}]`)-1), []int{'a', uStop}, []int{uOpen})
	acceptText(t, mistral, "Let me check.")
	if err := mistral.Accept(uOpen); err != nil {
		t.Fatal(err)
	}
	acceptText(t, mistral, `[{"name":"f","arguments":{"x":1}}]`)
	if !mistral.Done() {
		t.Error("Mistral's call did not end the answer")
	}
}

// A Hermes tag written as text is not completed when the tokens left
// could not finish the call it opens.
func TestCallConstraint_HermesTagNeedsRoom(t *testing.T) {
	v := unitVocab()
	g, err := grammar.ToolCall(unitTool, "", hermesClose)
	if err != nil {
		t.Fatal(err)
	}
	vs := &vocabs{}
	c := newCallConstraint(g, v, nil)
	c.open, c.tagEnds = []byte(hermesOpen), vs.holding(v, '>')
	acceptText(t, c, "Sure. <tool_call")
	need := len(`{"name":"f","arguments":{"x":0}}</tool_call>`)
	// With room, the tag may complete, but not run on into bytes that are
	// no call (">x"; ">\n\n<tool_call>" goes on into a second tag).
	wantMask(t, "room for the call", maskOf(t, c, v.Size(), need), []int{'>', 'a'}, []int{uBadRest, uGoesOn})
	wantMask(t, "no room", maskOf(t, c, v.Size(), need-1), []int{'a'}, []int{'>', uGoesOn})
}

// A Hermes family that reasons in <think> blocks: a <tool_call> the model
// writes inside its own block is reasoning (the parser reads no call
// there), so it opens no call and its text stays free; after </think> a
// tag opens a call as usual. The same holds from the start when the
// template opened the block.
func TestCallConstraint_HermesTagInsideThinking(t *testing.T) {
	v := unitVocab()
	g, err := grammar.ToolCall(unitTool, "", hermesClose)
	if err != nil {
		t.Fatal(err)
	}
	vs := &vocabs{}
	for _, opened := range []bool{false, true} {
		c := newCallConstraint(g, v, nil)
		c.open, c.tagEnds = []byte(hermesOpen), vs.holding(v, '>')
		c.think, c.thinking = true, opened
		if !opened {
			acceptText(t, c, "<think>")
		}
		acceptText(t, c, "\nI could answer with a <tool_call> block naming f")
		if c.in != nil {
			t.Fatalf("opened %v: a tag inside the reasoning block opened a call", opened)
		}
		wantMask(t, "inside the block, with no room for a call", maskOf(t, c, v.Size(), 1), []int{'>', 'a', uGoesOn}, nil)
		acceptText(t, c, ".</think>\n\nCalling: <tool_call>")
		if c.in == nil {
			t.Fatalf("opened %v: a tag after the block opened no call", opened)
		}
		wantMask(t, "inside the call", maskOf(t, c, v.Size(), 100), []int{'{'}, []int{'a'})
	}
}

// Where <tool_call> is one special token (some SmolLM3 tokenizers add it
// so), the Hermes constraint watches it by id: masked when the tokens left
// cannot finish a call, allowed when they can, and it opens a call.
func TestCallConstraint_HermesSpecialTag(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Spec{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	addTokens(t, dir, []string{"<tool_call>", "</tool_call>"})
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := &loaded{prompter: &prompter{tok: tok, syntax: toolcall.Hermes}}
	r := protocol.Request{Tools: []protocol.Tool{{Name: "f", InputSchema: unitTool[0].Schema}}}
	c, err := l.constraint(r, toolNames(r), false)
	if err != nil {
		t.Fatal(err)
	}
	open := testmodel.TokenizerSize
	if id, _ := tok.TokenID("<tool_call>"); id != open || !tok.IsSpecial(open) {
		t.Fatalf("<tool_call> is %d (special %v), want the special token %d", id, tok.IsSpecial(id), open)
	}
	size := tok.VocabSize()
	need := len(`{"name":"f","arguments":{"x":0}}</tool_call>`) // at most one token a byte
	wantMask(t, "room for a call", maskOf(t, c, size, need), []int{open}, nil)
	wantMask(t, "no room", maskOf(t, c, size, 2), nil, []int{open})
	if err := c.Accept(open); err != nil {
		t.Fatal(err)
	}
	if cc := c.(*callConstraint); cc.in == nil {
		t.Fatal("the special <tool_call> token opened no call")
	}
}

// harmonyMarkers are gpt-oss's special tokens, added to testmodel's
// tokenizer for the unit test.
var harmonyMarkers = []string{"<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|call|>", "<|return|>"}

// The harmony constraint: headers are free until "to=", whose recipient
// must be an offered tool; the body is that tool's arguments, then
// <|call|>; a forced call starts with its header.
func TestHarmonyConstraint_RecipientAndArguments(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Spec{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	addTokens(t, dir, harmonyMarkers)
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := func(s string) int { return testmodel.TokenizerSize + slices.Index(harmonyMarkers, s) }
	ids := harmonyIDs{start: id("<|start|>"), end: id("<|end|>"), message: id("<|message|>"), channel: id("<|channel|>"), constrain: id("<|constrain|>"), call: id("<|call|>")}
	vs := &vocabs{}
	b := func(s string) int { return tok.Encode(s, false)[0] }
	text := func(c generate.Constraint, s string) {
		t.Helper()
		for _, id := range tok.Encode(s, false) {
			if err := c.Accept(id); err != nil {
				t.Fatalf("%q: %v", s, err)
			}
		}
	}
	size := tok.VocabSize()
	c, err := newHarmony(vs, tok, ids, unitTool, nil)
	if err != nil {
		t.Fatal(err)
	}
	text(c, "<|channel|>analysis<|message|>Hmm {x}<|end|><|start|>assistant")
	wantMask(t, "a free header", maskOf(t, c, size, 100), []int{b("x"), b("{"), ids.message}, nil)
	text(c, " to")
	wantMask(t, "no room for a call", maskOf(t, c, size, 10), []int{b("x")}, []int{b("=")})
	text(c, "=")
	wantMask(t, "the recipient", maskOf(t, c, size, 100), []int{b("f")}, []int{b("b"), ids.message, ids.constrain})
	text(c, "functions.f")
	wantMask(t, "a whole recipient", maskOf(t, c, size, 100), []int{b(" "), ids.message, ids.constrain, ids.channel}, []int{b("x"), b("\n"), ids.call})
	text(c, "<|channel|>commentary ")
	wantMask(t, "the call's header", maskOf(t, c, size, 100), []int{b("j"), ids.constrain, ids.message}, []int{b("\n"), b("{"), ids.start, ids.end, ids.call})
	text(c, "<|constrain|>json<|message|>")
	wantMask(t, "the arguments", maskOf(t, c, size, 100), []int{b("{")}, []int{b("x"), b(" "), ids.call})
	text(c, `{"x": 4}`)
	wantMask(t, "whole arguments", maskOf(t, c, size, 100), []int{ids.call}, []int{b(" "), ids.end, ids.message})

	forced, err := newHarmony(vs, tok, ids, unitTool, unitTool)
	if err != nil {
		t.Fatal(err)
	}
	wantMask(t, "a forced call", maskOf(t, forced, size, 100), []int{ids.channel}, []int{b("x"), ids.message, ids.start})
	text(forced, "<|channel|>")
	wantMask(t, "a forced call's header", maskOf(t, forced, size, 100), []int{b("c")}, []int{b("x"), ids.message, ids.constrain})
	text(forced, "commentary to=functions.f")
	wantMask(t, "a forced call's whole header", maskOf(t, forced, size, 100), []int{ids.message}, []int{b(" "), ids.constrain, b("x")})
	text(forced, `<|message|>{"x":1}`)
	if forced.phase != hpClose {
		t.Error("the forced call's arguments did not end it")
	}
}

// BenchmarkCallMasks measures the masks that visit the whole vocabulary
// — a harmony recipient and call header, Llama 3's first token — on
// gpt-oss's 201,088-token vocabulary (a decode step of even a small
// model takes tens of milliseconds).
func BenchmarkCallMasks(b *testing.B) {
	f := families["gpt_oss"]
	if why := missingFiles(f); why != "" {
		b.Skip(why)
	}
	tok, err := tokenizer.Load(filepath.Join(refgen, f.tokenizer))
	if err != nil {
		b.Fatal(err)
	}
	var ids harmonyIDs
	for s, p := range map[string]*int{"<|start|>": &ids.start, "<|end|>": &ids.end, "<|message|>": &ids.message, "<|channel|>": &ids.channel, "<|constrain|>": &ids.constrain, "<|call|>": &ids.call} {
		*p, _ = tok.TokenID(s)
	}
	vs := &vocabs{}
	tools := callTools(protocol.Request{Tools: callTestTools})
	logits := make([]float32, tok.VocabSize())
	for _, tt := range []struct{ name, text string }{
		{"harmony recipient", "<|channel|>commentary to=functions.get_"},
		{"harmony call header", "<|channel|>commentary to=functions.get_weather "},
	} {
		b.Run(tt.name, func(b *testing.B) {
			c, err := newHarmony(vs, tok, ids, tools, nil)
			if err != nil {
				b.Fatal(err)
			}
			for _, id := range tok.Encode(tt.text, false) {
				if err := c.Accept(id); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Mask(logits, 100); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("llama first token", func(b *testing.B) {
		g, err := grammar.Call(tools, "", "", "parameters")
		if err != nil {
			b.Fatal(err)
		}
		c := newCallConstraint(g, vs.get(tok), tok)
		c.bare, c.last, c.ends = true, true, []int{ids.call}
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Mask(logits, 100); err != nil {
				b.Fatal(err)
			}
		}
	})
}
