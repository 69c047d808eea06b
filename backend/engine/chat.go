package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
	"github.com/modelbar/modelbar/backend/protocol"
)

// Defaults where a request leaves sampling open: the middle ground of
// LM Studio's and Ollama's defaults, for small local models.
const (
	defaultTemperature = 0.7
	defaultTopP        = 0.95
	// defaultMaxTokens bounds an answer whose request sets no limit: a
	// generation that never stops would grow its KV cache to the model's
	// whole context (128k tokens for Llama 3.1: tens of GB).
	defaultMaxTokens = 4096
)

// ErrNoTemplate: a model without a chat template cannot chat.
var ErrNoTemplate = errors.New("the model has no chat template")

// Chat answers a chat request with the local model named by r.Model,
// loading it if needed. Events go to emit as they are produced, in the
// order protocol.Event documents; an error returned before the first event
// means nothing was produced (the model is missing or failed to load, or
// the request does not fit it). A client that goes away (ctx) stops
// generation within one token.
func (e *Engine) Chat(ctx context.Context, r protocol.Request, emit func(protocol.Event) error) error {
	if _, err := e.find(r.Model); err != nil {
		return err
	}
	m, release, err := e.pool.Acquire(ctx, r.Model)
	if err != nil {
		return err
	}
	defer release()
	l := m.(*loaded)
	prompt, ids, err := l.prompt(r)
	if err != nil {
		return err
	}
	done, err := l.take(ctx)
	if err != nil {
		return err
	}
	defer done()
	return l.generate(ctx, r, prompt, ids, emit)
}

// CountTokens returns the number of tokens of r's prompt as Chat gives
// it to the model named by r.Model: the conversation rendered by the
// model's chat template (tools included, when it takes them) and encoded
// by its tokenizer. It loads the model as Chat does (a count precedes the
// request that needs it) but does not wait for the model's turn to
// generate.
func (e *Engine) CountTokens(ctx context.Context, r protocol.Request) (int, error) {
	if _, err := e.find(r.Model); err != nil {
		return 0, err
	}
	m, release, err := e.pool.Acquire(ctx, r.Model)
	if err != nil {
		return 0, err
	}
	defer release()
	_, ids, err := m.(*loaded).prompt(r)
	return len(ids), err
}

// prompt renders r with the model's chat template and encodes it.
func (l *loaded) prompt(r protocol.Request) (string, []int, error) {
	return l.prompter.prompt(l.name, r)
}

func (l *loaded) generate(ctx context.Context, r protocol.Request, prompt string, ids []int, emit func(protocol.Event) error) error {
	ctxLen := l.files.Config().MaxPositionEmbeddings
	if len(ids) >= ctxLen {
		return &ContextError{Model: l.name, Param: "messages", Tokens: len(ids), Window: ctxLen}
	}
	maxTokens := r.MaxTokens
	if maxTokens <= 0 {
		maxTokens = defaultMaxTokens
	}
	out := &blocks{emit: emit, tools: toolNames(r), ids: l.callIDs()}
	opened := strings.HasSuffix(strings.TrimRight(prompt, "\n"), "<think>")
	syntax := l.syntax
	if len(out.tools) == 0 {
		syntax = syntax.WithoutTools() // no tools offered: a JSON answer is an answer, not a call
	}
	constraint, err := l.constraint(r, out.tools, opened)
	if err != nil {
		return err
	}
	think := l.thinks
	if r.Output != nil { // the answer is the JSON, from its first token
		syntax, think, opened = toolcall.None, false, false
	}
	parser := toolcall.NewParser(syntax, think, opened)
	start := func(cached int) error {
		return emit(protocol.Event{Type: protocol.EventStart, ID: "msg_" + randomID(), Model: r.Model,
			Usage: protocol.Usage{InputTokens: len(ids) - cached, CacheReadTokens: cached}})
	}
	res, err := l.run(ctx, generate.Request{Prompt: ids, MaxTokens: maxTokens, StopTokens: l.stops, Stop: r.StopSequences, Sampling: sampling(r), Constraint: constraint},
		start, func(text string) error { return out.parts(parser.Add(text)) })
	if err != nil {
		return err
	}
	if err := out.parts(parser.Finish()); err != nil {
		return err
	}
	return out.stop(res)
}

func sampling(r protocol.Request) generate.Sampling {
	s := generate.Sampling{Temperature: defaultTemperature, TopP: defaultTopP}
	if r.Temperature != nil {
		s.Temperature = *r.Temperature
	}
	if r.TopP != nil {
		s.TopP = *r.TopP
	}
	if r.TopK != nil {
		s.TopK = *r.TopK
	}
	if r.MinP != nil {
		s.MinP = *r.MinP
	}
	if r.RepetitionPenalty != nil {
		s.RepetitionPenalty = *r.RepetitionPenalty
	}
	if r.Seed != nil {
		seed := uint64(*r.Seed)
		s.Seed = &seed
	}
	return s
}

// toolNames are the tools a request lets the model call: none when it
// offers none or says tool_choice "none".
func toolNames(r protocol.Request) map[string]bool {
	if r.ToolChoice != nil && r.ToolChoice.Mode == protocol.ToolChoiceNone {
		return nil
	}
	names := map[string]bool{}
	for _, t := range r.Tools {
		names[t.Name] = true
	}
	return names
}

// blocks turns parts of the output into the block events of one message.
type blocks struct {
	emit  func(protocol.Event) error
	tools map[string]bool // the tools the model may call; a call to another is text
	ids   func() string   // makes tool-call ids in the form the model family uses
	next  int
	open  protocol.BlockType // "" when no block is open
	calls int
}

func (b *blocks) parts(ps []toolcall.Part) error {
	for _, p := range ps {
		var err error
		switch p.Kind {
		case toolcall.Text:
			err = b.text(protocol.BlockText, protocol.DeltaText, p.Text)
		case toolcall.Reasoning:
			err = b.text(protocol.BlockThinking, protocol.DeltaThinking, p.Text)
		case toolcall.Call:
			if b.tools[p.Name] {
				err = b.call(p)
			} else { // not a tool the client offered: what the model wrote is text
				err = b.text(protocol.BlockText, protocol.DeltaText, fmt.Sprintf(`{"name": %q, "arguments": %s}`, p.Name, p.Arguments))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *blocks) text(kind protocol.BlockType, delta protocol.DeltaType, s string) error {
	if b.open != kind {
		if err := b.start(&protocol.Block{Type: kind}); err != nil {
			return err
		}
	}
	return b.emit(protocol.Event{Type: protocol.EventDelta, Index: b.next - 1, DeltaType: delta, Delta: s})
}

func (b *blocks) call(p toolcall.Part) error {
	b.calls++
	if err := b.start(&protocol.Block{Type: protocol.BlockToolUse, ID: b.ids(), Name: p.Name}); err != nil {
		return err
	}
	if err := b.emit(protocol.Event{Type: protocol.EventDelta, Index: b.next - 1, DeltaType: protocol.DeltaInputJSON, Delta: string(p.Arguments)}); err != nil {
		return err
	}
	return b.close()
}

func (b *blocks) start(blk *protocol.Block) error {
	if err := b.close(); err != nil {
		return err
	}
	b.open = blk.Type
	b.next++
	return b.emit(protocol.Event{Type: protocol.EventBlockStart, Index: b.next - 1, Block: blk})
}

func (b *blocks) close() error {
	if b.open == "" {
		return nil
	}
	b.open = ""
	return b.emit(protocol.Event{Type: protocol.EventBlockStop, Index: b.next - 1})
}

func (b *blocks) stop(res generate.Result) error {
	if err := b.close(); err != nil {
		return err
	}
	reason := protocol.StopEndTurn
	switch {
	case b.calls > 0:
		reason = protocol.StopToolUse
	case res.Finish == generate.FinishLength:
		reason = protocol.StopMaxTokens
	case res.Finish == generate.FinishStopSequence:
		reason = protocol.StopSequence
	}
	return b.emit(protocol.Event{Type: protocol.EventStop, StopReason: reason, StopSequence: res.StopSequence,
		Usage: protocol.Usage{InputTokens: res.PromptTokens - res.CachedTokens, CacheReadTokens: res.CachedTokens, OutputTokens: res.CompletionTokens}})
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
