package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/modelbar/modelbar/backend/engine/chattemplate"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tokenizer"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
	"github.com/modelbar/modelbar/backend/protocol"
)

// A model's context window, and a prompt measured against it without
// loading the model: the gateway skips a local model a request does not
// fit (context-window routing) before paying for a load.

// ContextLength is the context window of the local model name, in
// tokens: its config's max_position_embeddings, the most tokens Chat lets
// a prompt and its answer take. It reads no weights.
func (e *Engine) ContextLength(name string) (int, error) {
	en, err := e.find(name)
	if err != nil {
		return 0, err
	}
	return en.ContextLength, nil
}

// CountPrompt is CountTokens without loading the model: the prompt as
// Chat would give it to the model named by r.Model, rendered by its chat
// template and encoded by its tokenizer, both read from the model's
// directory (and kept for the few models counted or loaded last), never
// its weights. A request can so be measured against ContextLength before
// the model is loaded, or instead of loading it when it does not fit.
func (e *Engine) CountPrompt(ctx context.Context, r protocol.Request) (int, error) {
	en, err := e.find(r.Model)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p, err := e.prompters.get(en)
	if err != nil {
		return 0, err
	}
	_, ids, err := p.prompt(en.ID, r)
	return len(ids), err
}

// ContextError: a prompt leaves no room for an answer in a local model's
// context window. It unwraps to the protocol.RequestError its client hears
// when no other backend can take the request; the gateway tries the next
// backend of the route first.
type ContextError struct {
	Model  string
	Param  string // the request field the prompt is in: "messages", "prompt"
	Tokens int    // the prompt's
	Window int    // the model's context length
}

func (e *ContextError) Error() string { return e.Unwrap().Error() }

func (e *ContextError) Unwrap() error {
	what := "conversation"
	if e.Param == "prompt" {
		what = "prompt"
	}
	return &protocol.RequestError{Param: e.Param, Message: fmt.Sprintf("the %s is %d tokens; %s holds %d", what, e.Tokens, e.Model, e.Window)}
}

// prompter is what turning a chat request into a model's prompt takes:
// the model's tokenizer and chat template, and what its template says of
// tool calls and reasoning. Immutable, safe for concurrent use.
type prompter struct {
	tok      *tokenizer.Tokenizer
	template *chattemplate.Template // nil: the model has none (completions only)
	syntax   toolcall.Syntax
	thinks   bool
}

// loadPrompter reads the tokenizer and chat template of the model en.
func loadPrompter(en modelfile.Entry) (*prompter, error) {
	tok, err := tokenizer.Load(en.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", en.ID, err)
	}
	tpl, err := chattemplate.Load(en.Path)
	if err != nil && !errors.Is(err, chattemplate.ErrNoTemplate) {
		return nil, fmt.Errorf("%s: %w", en.ID, err)
	}
	p := &prompter{tok: tok}
	if err == nil {
		p.template = tpl
		p.syntax, p.thinks = toolcall.Detect(tpl.Source())
	}
	return p, nil
}

// prompt renders r with the chat template and encodes it; model names the
// model in errors.
func (p *prompter) prompt(model string, r protocol.Request) (string, []int, error) {
	if p.template == nil {
		return "", nil, fmt.Errorf("%s: %w", model, ErrNoTemplate)
	}
	in, err := templateInput(r, p.syntax)
	if err != nil {
		return "", nil, err
	}
	return renderPrompt(p.template, p.tok, in)
}

// keptPrompters bounds the prompters kept: a tokenizer of a 150k-token
// vocabulary takes tens of MB.
const keptPrompters = 4

// prompters keeps the prompters of the models counted or loaded last, so
// that a count does not read a tokenizer again for every request, and a
// load after a count does not parse it twice. The zero value is ready;
// safe for concurrent use.
type prompters struct {
	mu      sync.Mutex
	byDir   map[string]*keptPrompter // guarded by mu: by model directory
	reading map[string]*reading      // guarded by mu: reads under way, by model directory
}

// reading is one read of a prompter that callers missing at once share.
type reading struct {
	done chan struct{}
	p    *prompter
	err  error
}

// keptPrompter is a prompter, valid while its directory's size on disk is
// unchanged (a model downloaded again is read again).
type keptPrompter struct {
	size int64
	p    *prompter
	used time.Time
}

// get returns en's prompter, reading it when none is kept. Callers that
// miss at once share one read: a burst of first requests reads a large
// tokenizer once, not once each.
func (c *prompters) get(en modelfile.Entry) (*prompter, error) {
	c.mu.Lock()
	k, ok := c.byDir[en.Path]
	if ok && k.size == en.SizeOnDisk {
		k.used = time.Now()
		c.mu.Unlock()
		return k.p, nil
	}
	if rd, ok := c.reading[en.Path]; ok {
		c.mu.Unlock()
		<-rd.done
		return rd.p, rd.err
	}
	rd := &reading{done: make(chan struct{})}
	if c.reading == nil {
		c.reading = map[string]*reading{}
	}
	c.reading[en.Path] = rd
	c.mu.Unlock()
	rd.p, rd.err = loadPrompter(en)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.reading, en.Path)
	close(rd.done)
	p, err := rd.p, rd.err
	if err != nil {
		return nil, err
	}
	if c.byDir == nil {
		c.byDir = map[string]*keptPrompter{}
	}
	c.byDir[en.Path] = &keptPrompter{size: en.SizeOnDisk, p: p, used: time.Now()}
	for len(c.byDir) > keptPrompters {
		oldest := ""
		for dir, k := range c.byDir {
			if oldest == "" || k.used.Before(c.byDir[oldest].used) {
				oldest = dir
			}
		}
		delete(c.byDir, oldest)
	}
	return p, nil
}
