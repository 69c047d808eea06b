package engine

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
	"github.com/modelbar/modelbar/backend/protocol"
)

// newEngine writes tiny random models under <dir>/models/test/<name> and
// starts an engine on them.
func newEngine(t testing.TB, budget int64, specs map[string]testmodel.Spec) *Engine {
	t.Helper()
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	return newEngineOn(t, b, budget, specs)
}

// newEngineOn is newEngine on the backend b.
func newEngineOn(t testing.TB, b tensor.Backend, budget int64, specs map[string]testmodel.Spec) *Engine {
	t.Helper()
	dir := t.TempDir()
	for name, spec := range specs {
		if err := testmodel.Write(filepath.Join(dir, "models", "test", name), spec); err != nil {
			t.Fatal(err)
		}
	}
	e := New(Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: budget, Backend: b})
	t.Cleanup(e.Close)
	return e
}

func userSays(model, text string, maxTokens int) protocol.Request {
	zero := 0.0
	return protocol.Request{Model: model, MaxTokens: maxTokens, Temperature: &zero,
		Messages: []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: text}}}}}
}

func chat(t *testing.T, e *Engine, r protocol.Request) ([]protocol.Event, error) {
	t.Helper()
	var evs []protocol.Event
	err := e.Chat(context.Background(), r, func(ev protocol.Event) error {
		evs = append(evs, ev)
		return nil
	})
	return evs, err
}

// familyChat is one model of a chat test: written from spec, sent
// prompt, whose rendering must count more than minInput tokens (past the
// model's sliding windows, say).
type familyChat struct {
	spec     testmodel.Spec
	prompt   string
	minInput int
}

// chatMaxTokens bounds every answer of testChatFamilies.
const chatMaxTokens = 12

// testChatFamilies writes each model under test/<name> and chats with it
// twice, greedily: the events form one well-formed message whose usage
// counts the tokens, and the second run gives the same answer with all of
// its prompt but the last token read from the prefix cache.
func testChatFamilies(t *testing.T, models map[string]familyChat) {
	specs := map[string]testmodel.Spec{}
	for name, m := range models {
		specs[name] = m.spec
	}
	e := newEngine(t, 1<<30, specs)
	for _, name := range slices.Sorted(maps.Keys(models)) {
		model := "test/" + name
		t.Run(model, func(t *testing.T) {
			m := models[name]
			res := chatOnce(t, e, model, m.prompt)
			if u := res.Usage; u.InputTokens <= m.minInput || u.OutputTokens == 0 || u.OutputTokens > chatMaxTokens {
				t.Errorf("usage %+v: want more than %d prompt tokens and 1 to %d generated", u, m.minInput, chatMaxTokens)
			}
			if res.Usage.OutputTokens == chatMaxTokens && res.StopReason != protocol.StopMaxTokens {
				t.Errorf("%d tokens generated of %d allowed, stop reason %q", chatMaxTokens, chatMaxTokens, res.StopReason)
			}
			again := chatOnce(t, e, model, m.prompt)
			if again.Usage.OutputTokens != res.Usage.OutputTokens || !cmp.Equal(again.Content, res.Content) {
				t.Errorf("greedy decoding differs between runs: %+v vs %+v", res, again)
			}
			if u := again.Usage; u.CacheReadTokens != res.Usage.InputTokens-1 || u.InputTokens != 1 {
				t.Errorf("the same prompt again: usage %+v, first %+v; want all but the last token cached", u, res.Usage)
			}
		})
	}
}

// chatOnce sends prompt to model and checks that the events open and close
// one message.
func chatOnce(t *testing.T, e *Engine, model, prompt string) protocol.Response {
	t.Helper()
	evs, err := chat(t, e, userSays(model, prompt, chatMaxTokens))
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Type != protocol.EventStart || evs[len(evs)-1].Type != protocol.EventStop {
		t.Fatalf("events do not open and close a message: %+v", evs)
	}
	res, err := protocol.Aggregate(evs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// A chat with a generated model runs end to end: the template is rendered,
// tokens generated, and the events form one well-formed message whose
// usage counts the tokens; greedy decoding repeats itself exactly.
func TestChat_EndToEnd(t *testing.T) {
	testChatFamilies(t, map[string]familyChat{
		"llama": {spec: testmodel.Spec{Seed: 1}, prompt: "Hello there"},
		"qwen3": {spec: testmodel.Spec{Architecture: "qwen3", Seed: 2, Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4}},
			prompt: "Hello there"},
	})
}

func TestChat_UnknownModelAndCancellation(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"llama": {Seed: 1}})
	if _, err := chat(t, e, userSays("test/nope", "hi", 5)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown model: %v", err)
	}
	if !e.Has("test/llama") || e.Has("test/nope") {
		t.Error("Has is wrong")
	}
	ctx, cancel := context.WithCancel(context.Background())
	deltas := 0
	err := e.Chat(ctx, userSays("test/llama", "hi", 500), func(ev protocol.Event) error {
		if ev.Type == protocol.EventDelta {
			deltas++
			if deltas == 2 {
				cancel()
			}
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled chat: %v", err)
	}
	if deltas > 3 {
		t.Errorf("%d deltas after cancelling at the second", deltas)
	}
}

// Under a budget that holds one model, using a second evicts the first,
// and the first reloads on its next use.
func TestChat_PoolEvictsUnderBudget(t *testing.T) {
	specs := map[string]testmodel.Spec{"a": {Seed: 1}, "b": {Seed: 2}}
	e := newEngine(t, 0, specs)
	var size int64
	for _, m := range e.Models() {
		size = max(size, m.SizeOnDisk)
	}
	e.Close()
	e = newEngine(t, size+size/2, specs)
	for _, name := range []string{"test/a", "test/b", "test/a"} {
		if _, err := chat(t, e, userSays(name, "hi", 2)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		loaded := 0
		for _, m := range e.Models() {
			if m.Loaded {
				loaded++
				if m.ID != name {
					t.Errorf("after %s, %s is loaded", name, m.ID)
				}
			}
		}
		if loaded != 1 {
			t.Errorf("after %s: %d models loaded, want 1", name, loaded)
		}
	}
}

// Models whose directories are symbolic links (as a model linked into the
// models directory from elsewhere) weigh their real size, so the budget
// evicts them as it does any other: with room for one, using the second
// unloads the first.
func TestChat_PoolEvictsSymlinkedModels(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b"} {
		if err := testmodel.Write(filepath.Join(dir, "store", name), testmodel.Spec{Seed: 1}); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "models", "test"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(dir, "store", name), filepath.Join(dir, "models", "test", name)); err != nil {
			t.Fatal(err)
		}
	}
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	probe := New(Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Backend: b})
	size := probe.Models()[0].SizeOnDisk
	probe.Close()
	if size == 0 {
		t.Fatal("a linked model weighs 0 bytes")
	}
	e := New(Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: size + size/2, Backend: b})
	t.Cleanup(e.Close)
	for _, name := range []string{"test/a", "test/b"} {
		if _, err := chat(t, e, userSays(name, "hi", 2)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, m := range e.Models() {
		if m.Loaded != (m.ID == "test/b") {
			t.Errorf("%s loaded = %v after using test/a, then test/b", m.ID, m.Loaded)
		}
	}
}

func TestChat_RefusesImages(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"llama": {Seed: 1}})
	r := userSays("test/llama", "hi", 2)
	r.Messages[0].Content = append(r.Messages[0].Content, protocol.Block{Type: protocol.BlockImage, Image: &protocol.Image{URL: "https://x/y.png"}})
	var re *protocol.RequestError
	if _, err := chat(t, e, r); !errors.As(err, &re) {
		t.Errorf("image: %v, want a RequestError", err)
	}
}

func TestComplete_ContinuesAPrompt(t *testing.T) {
	e := newEngine(t, 1<<30, map[string]testmodel.Spec{"llama": {Seed: 1}})
	var text string
	res, err := e.Complete(context.Background(), Completion{Model: "test/llama", Prompt: "Once upon a time", MaxTokens: 5},
		func(s string) error { text += s; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.PromptTokens == 0 || res.CompletionTokens == 0 || res.CompletionTokens > 5 {
		t.Errorf("result %+v (text %q)", res, text)
	}
}

func TestMistralID(t *testing.T) {
	for _, id := range []string{"toolu_01ABC", "call_abcdef0123456789", "x"} {
		got := mistralID(id)
		if len(got) != 9 || got != mistralID(id) {
			t.Errorf("mistralID(%q) = %q: want 9 characters, stable", id, got)
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				t.Errorf("mistralID(%q) = %q: not alphanumeric", id, got)
			}
		}
	}
	if got := mistralID("aB3dE5gH9"); got != "aB3dE5gH9" {
		t.Errorf("a valid Mistral id was changed to %q", got)
	}
}

// A call to a tool the client did not offer is what the model wrote, as
// text; a call to an offered tool is a tool_use block.
func TestBlocks_OnlyOfferedToolsAreCalls(t *testing.T) {
	var evs []protocol.Event
	b := &blocks{emit: func(ev protocol.Event) error { evs = append(evs, ev); return nil },
		tools: map[string]bool{"get_weather": true}, ids: func() string { return "call_1" }}
	err := b.parts([]toolcall.Part{
		{Kind: toolcall.Call, Name: "Alice", Arguments: json.RawMessage(`{}`)},
		{Kind: toolcall.Call, Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.stop(generate.Result{Finish: generate.FinishStop}); err != nil {
		t.Fatal(err)
	}
	res, err := protocol.Aggregate(append([]protocol.Event{{Type: protocol.EventStart}}, evs...))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Content) != 2 || res.Content[0].Type != protocol.BlockText || res.Content[1].Type != protocol.BlockToolUse ||
		res.Content[1].Name != "get_weather" || res.StopReason != protocol.StopToolUse {
		t.Errorf("response %+v", res)
	}
}

func TestTemplateInput_ToolChoiceNoneHidesTools(t *testing.T) {
	r := userSays("m", "hi", 5)
	r.Tools = []protocol.Tool{{Name: "f"}}
	in, err := templateInput(r, toolcall.Hermes)
	if err != nil || len(in.Tools) != 1 {
		t.Fatalf("tools %v %v", in.Tools, err)
	}
	r.ToolChoice = &protocol.ToolChoice{Mode: protocol.ToolChoiceNone}
	if in, _ := templateInput(r, toolcall.Hermes); len(in.Tools) != 0 || toolNames(r) != nil {
		t.Errorf("tool_choice none still offers tools: %v", in.Tools)
	}
}
