package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/protocol"
)

// AgentOptions configure the agent-turn benchmark.
type AgentOptions struct {
	Dir string // where the model is written (kept for the next run); "" uses a temp dir
	// Shape is "realistic" (Qwen2.5-0.5B-Instruct-4bit's shape, the
	// default) or "small" (a tiny shape: the realistic one takes minutes
	// per turn on a CPU).
	Shape  string
	Prefix int // the first turn's prompt, in tokens; 0: 6000
	Answer int // tokens the first turn answers; 0: 32
	New    int // tokens the second turn adds after the answer; 0: 200
	// Backends names the backends to measure ("cpu", "mlx"); empty:
	// every one available, saying why the others are not.
	Backends []string
}

// Agent measures what the prefix cache does for an agent: its first turn
// sends a long prompt (system prompt and tools: Prefix tokens), its second
// the same conversation with the model's answer and a new message (New
// tokens) appended, as Claude Code, Codex and opencode do. It reports the
// time to first token of each turn, through the engine as a request meets
// it (chat template, tokenizer, prefix cache), and their ratio. The time
// to first token is that of a request for one token: the prefill and the
// first sample, nothing else.
func Agent(w io.Writer, o AgentOptions) error {
	if o.Shape == "" {
		o.Shape = "realistic"
	}
	spec, about, err := agentShape(o.Shape)
	if err != nil {
		return err
	}
	if o.Prefix <= 0 {
		o.Prefix = 6000
	}
	if o.Answer <= 0 {
		o.Answer = 32
	}
	if o.New <= 0 {
		o.New = 200
	}
	if need := o.Prefix + o.Answer + o.New + 64; need > spec.MaxPositionEmbeddings {
		spec.MaxPositionEmbeddings = need
	}
	if o.Dir != "" {
		o.Dir = filepath.Join(o.Dir, "agent-"+o.Shape)
	}
	dir, cleanup, err := modelDir(w, Options{Dir: o.Dir, Spec: spec})
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(w, "agent turns on %s; first turn %d prompt tokens, answer %d tokens, second turn +%d tokens; "+
		"time to first token = a request for one token (prefill and first sample)\n", about, o.Prefix, o.Answer, o.New)
	backends, err := available(w, o.Backends, []string{"cpu", "mlx"})
	if err != nil {
		return err
	}
	for _, b := range backends {
		e := engine.New(engine.Options{Roots: []modelfile.Root{{Kind: modelfile.ModelsDir, Dir: filepath.Dir(dir)}}, Budget: 1 << 40, Backend: b})
		r, err := agentTurns(context.Background(), e, filepath.Base(dir), o)
		e.Close()
		b.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", b.Name(), err)
		}
		fmt.Fprintf(w, "%s: turn 1: %d prompt tokens, first token after %s; turn 2: %d prompt tokens (%d reused), first token after %s: %.1f× sooner\n",
			b.Name(), r.prompt1, r.ttft1.Round(time.Millisecond), r.prompt2, r.cached2, r.ttft2.Round(time.Millisecond), r.ttft1.Seconds()/r.ttft2.Seconds())
	}
	return nil
}

// agentShape is the model of a shape name, and its description.
func agentShape(shape string) (testmodel.Spec, string, error) {
	switch shape {
	case "realistic":
		s := testmodel.Realistic()
		s.MaxPositionEmbeddings = 8192
		return s, "the realistic shape (Qwen2.5-0.5B-Instruct-4bit: 24 layers, hidden 896, 4-bit)", nil
	case "small":
		s := testmodel.Spec{Architecture: "qwen2", HiddenSize: 256, IntermediateSize: 768, NumLayers: 4, NumHeads: 4, NumKVHeads: 2,
			MaxPositionEmbeddings: 8192, TieWordEmbeddings: true, Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 4}}
		return s, "a small generated shape (qwen2, 4 layers, hidden 256, 4-bit; not the 0.5B shape, which takes minutes per turn on a CPU)", nil
	}
	return testmodel.Spec{}, "", fmt.Errorf("unknown shape %q: use realistic or small", shape)
}

// agentResult is one backend's two turns.
type agentResult struct {
	prompt1, prompt2, cached2 int
	ttft1, ttft2              time.Duration
}

// agentTurns runs the first turn (timed for one token, then answered),
// then the second (timed for one token).
func agentTurns(ctx context.Context, e *engine.Engine, model string, o AgentOptions) (agentResult, error) {
	var r agentResult
	zero := 0.0
	conv := protocol.Request{Model: model, Temperature: &zero, Messages: []protocol.Message{userText("Fix the failing test in the parser.")}}
	system, err := textOf(ctx, e, o.Prefix, "You are a coding agent. These are your tools and rules. ", func(text string) protocol.Request {
		c := conv
		c.System = []protocol.Block{{Type: protocol.BlockText, Text: text}}
		return c
	})
	if err != nil {
		return r, err
	}
	conv.System = []protocol.Block{{Type: protocol.BlockText, Text: system}}
	var u protocol.Usage
	if r.ttft1, u, err = firstToken(ctx, e, conv); err != nil {
		return r, err
	}
	r.prompt1 = u.InputTokens + u.CacheReadTokens
	conv.MaxTokens = o.Answer
	answer, err := chatOnce(ctx, e, conv)
	if err != nil {
		return r, err
	}
	conv.Messages = append(conv.Messages, protocol.Message{Role: protocol.RoleAssistant, Content: answer.Content})
	// The new message: text until the conversation has grown by o.New
	// tokens past the answer.
	withMessage := func(text string) protocol.Request {
		c := conv
		c.Messages = append(conv.Messages[:len(conv.Messages):len(conv.Messages)], userText(text))
		return c
	}
	base, err := e.CountTokens(ctx, conv)
	if err != nil {
		return r, err
	}
	more, err := textOf(ctx, e, base+o.New, "The test output says the tokenizer drops a byte. ", withMessage)
	if err != nil {
		return r, err
	}
	conv = withMessage(more)
	if r.ttft2, u, err = firstToken(ctx, e, conv); err != nil {
		return r, err
	}
	r.prompt2, r.cached2 = u.InputTokens+u.CacheReadTokens, u.CacheReadTokens
	return r, nil
}

// textOf returns text (sentence repeated) that makes the request with(text)
// take target tokens, found by counting.
func textOf(ctx context.Context, e *engine.Engine, target int, sentence string, with func(text string) protocol.Request) (string, error) {
	count := func(text string) (int, error) { return e.CountTokens(ctx, with(text)) }
	base, err := count("")
	if err != nil {
		return "", err
	}
	sample := strings.Repeat(sentence, 20)
	n, err := count(sample)
	if err != nil {
		return "", err
	}
	perToken := float64(len(sample)) / float64(max(n-base, 1))
	text := ""
	for range 4 { // converge on the length: each pass corrects by the count
		if n, err = count(text); err != nil || n == target {
			return text, err
		}
		chars := len(text) + int(float64(target-n)*perToken)
		for len(text) < chars {
			text += sentence
		}
		text = text[:max(chars, 0)]
	}
	return text, nil
}

func userText(s string) protocol.Message {
	return protocol.Message{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: s}}}
}

// firstToken times a request for one token and returns its usage.
func firstToken(ctx context.Context, e *engine.Engine, conv protocol.Request) (time.Duration, protocol.Usage, error) {
	conv.MaxTokens = 1
	start := time.Now()
	res, err := chatOnce(ctx, e, conv)
	return time.Since(start), res.Usage, err
}

func chatOnce(ctx context.Context, e *engine.Engine, conv protocol.Request) (protocol.Response, error) {
	var evs []protocol.Event
	if err := e.Chat(ctx, conv, func(ev protocol.Event) error { evs = append(evs, ev); return nil }); err != nil {
		return protocol.Response{}, err
	}
	return protocol.Aggregate(evs)
}
