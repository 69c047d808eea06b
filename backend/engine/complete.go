package engine

import (
	"context"
	"fmt"

	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/protocol"
)

// Completion is a plain text continuation (the legacy completions API):
// no chat template, the prompt tokenized with the model's special tokens.
type Completion struct {
	Model     string
	Prompt    string
	MaxTokens int
	Stop      []string
	Sampling  generate.Sampling
}

// Complete continues a prompt with the local model, calling emit with each
// new piece of text; errors before the first piece mean nothing was
// produced.
func (e *Engine) Complete(ctx context.Context, c Completion, emit func(string) error) (generate.Result, error) {
	if _, err := e.find(c.Model); err != nil {
		return generate.Result{}, err
	}
	m, release, err := e.pool.Acquire(ctx, c.Model)
	if err != nil {
		return generate.Result{}, err
	}
	defer release()
	l := m.(*loaded)
	ids := l.tok.Encode(c.Prompt, true)
	ctxLen := l.files.Config().MaxPositionEmbeddings
	switch {
	case len(ids) == 0:
		return generate.Result{}, &protocol.RequestError{Param: "prompt", Message: fmt.Sprintf("the prompt is 0 tokens; %s holds %d", l.name, ctxLen)}
	case len(ids) >= ctxLen:
		return generate.Result{}, &ContextError{Model: l.name, Param: "prompt", Tokens: len(ids), Window: ctxLen}
	}
	done, err := l.take(ctx)
	if err != nil {
		return generate.Result{}, err
	}
	defer done()
	// MaxTokens ≤ 0 generates one token, as when the cache was sized
	// for prompt + MaxTokens.
	return l.run(ctx, generate.Request{Prompt: ids, MaxTokens: max(c.MaxTokens, 1), StopTokens: l.stops, Stop: c.Stop, Sampling: c.Sampling}, nil, emit)
}
