package engine

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/grammar"
	"github.com/modelbar/modelbar/backend/engine/tokenizer"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
	"github.com/modelbar/modelbar/backend/protocol"
)

// vocabs builds a model's grammar vocabulary on first use (a trie of
// 150,000 tokens takes a moment and some MB: only models asked for
// structured output pay it).
type vocabs struct {
	once  sync.Once
	vocab *grammar.Vocab
}

func (vs *vocabs) get(tok *tokenizer.Tokenizer) *grammar.Vocab {
	vs.once.Do(func() {
		vs.vocab = grammar.NewVocab(tok.VocabSize(), func(id int) []byte {
			if tok.IsSpecial(id) {
				return nil // <|im_end|> and the like are never JSON text
			}
			return tok.TokenBytes(id)
		})
	})
	return vs.vocab
}

// constraint is the grammar r's answer is sampled under: its output
// format (the whole answer is the JSON), or else, for a family that
// writes Hermes-style calls (<tool_call>{"name", "arguments"}</tool_call>)
// and a request that offers tools, each call's JSON (the text around
// calls stays free; with tool_choice required or a named tool, the answer
// starts with a call, unless the template opened a reasoning block); for
// Llama 3, a call the request forces (llamaCall). nil: no constraint.
// Other families' tool calls are not constrained.
func (l *loaded) constraint(r protocol.Request, tools map[string]bool, opened bool) (generate.Constraint, error) {
	if r.Output != nil {
		g, err := grammar.Compile(r.Output.Schema)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSchema, err)
		}
		return grammar.NewConstraint(g, l.vocabs.get(l.tok), l.stops), nil
	}
	if len(tools) == 0 {
		return nil, nil
	}
	if l.syntax == toolcall.Llama3 {
		return l.llamaCall(r, opened)
	}
	if l.syntax != toolcall.Hermes {
		return nil, nil
	}
	offered := callTools(r)
	g, err := grammar.ToolCall(offered, "", hermesClose)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	c := &callConstraint{g: g, v: l.vocabs.get(l.tok), tok: l.tok, open: []byte(hermesOpen)}
	if forced := forcedTools(r, offered); forced != nil && !opened {
		// tool_choice required or a named tool: the answer starts with a
		// call (to that tool).
		fg, err := grammar.ToolCall(forced, hermesOpen, hermesClose)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSchema, err)
		}
		c.in = grammar.NewConstraint(fg, c.v, nil)
	}
	return c, nil
}

// llamaCall constrains a Llama 3 answer that must call a tool: the whole
// answer is {"name": ..., "parameters": ...} (the family's bare JSON
// call), and it ends there. An answer that may choose is left free: its
// call, if any, is the whole answer, which the model decides from its
// first token.
func (l *loaded) llamaCall(r protocol.Request, opened bool) (generate.Constraint, error) {
	forced := forcedTools(r, callTools(r))
	if forced == nil || opened {
		return nil, nil
	}
	g, err := grammar.Call(forced, "", "", "parameters")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	return grammar.NewConstraint(g, l.vocabs.get(l.tok), l.stops), nil
}

const (
	hermesOpen  = "<tool_call>"
	hermesClose = "</tool_call>"
)

// forcedTools are the tools the answer must start by calling: all of
// them for tool_choice required, the named one for a named choice; nil
// when the model may answer without a call.
func forcedTools(r protocol.Request, tools []grammar.Tool) []grammar.Tool {
	if r.ToolChoice == nil {
		return nil
	}
	switch r.ToolChoice.Mode {
	case protocol.ToolChoiceRequired:
		return tools
	case protocol.ToolChoiceTool:
		for _, t := range tools {
			if t.Name == r.ToolChoice.Name {
				return []grammar.Tool{t}
			}
		}
	}
	return nil
}

// ErrSchema: the request's output or tool schema is outside the subset
// the grammar supports (a *grammar.SchemaError says which keyword).
var ErrSchema = errors.New("unsupported JSON Schema")

// callTools are the tools whose calls are constrained, each with the
// schema its arguments follow: its input schema, or any object when that
// schema is outside the supported subset or not an object's (the tool is
// still offered: its calls are then only made to be objects).
func callTools(r protocol.Request) []grammar.Tool {
	var tools []grammar.Tool
	for _, t := range r.Tools {
		schema := t.InputSchema
		if _, err := grammar.ToolCall([]grammar.Tool{{Name: t.Name, Schema: schema}}, "", ""); err != nil {
			schema = nil
		}
		tools = append(tools, grammar.Tool{Name: t.Name, Schema: schema})
	}
	return tools
}

// callConstraint leaves text free and constrains each tool call: after
// the opening tag, the call's JSON and the closing tag.
type callConstraint struct {
	g    *grammar.Grammar
	v    *grammar.Vocab
	tok  *tokenizer.Tokenizer
	open []byte
	tail []byte              // the last bytes of free text, to find the opening tag
	in   *grammar.Constraint // non-nil inside a call
}

var _ generate.Constraint = (*callConstraint)(nil)

func (c *callConstraint) Mask(logits []float32, left int) error {
	if c.in != nil {
		return c.in.Mask(logits, left)
	}
	return nil
}

func (c *callConstraint) Accept(id int) error {
	if c.in != nil {
		err := c.in.Accept(id)
		if c.in.Done() {
			c.in = nil
		}
		return err
	}
	bs := c.tok.TokenBytes(id)
	c.tail = append(c.tail, bs...)
	i := bytes.Index(c.tail, c.open)
	if i < 0 {
		if keep := len(c.open) - 1; len(c.tail) > keep {
			c.tail = append(c.tail[:0], c.tail[len(c.tail)-keep:]...)
		}
		return nil
	}
	rest := c.tail[i+len(c.open):]
	c.tail = c.tail[:0]
	c.in = grammar.NewConstraint(c.g, c.v, nil)
	if len(rest) > 0 && !c.in.Feed(rest) {
		c.in = nil // the token ran past the tag into something that is no call: leave it free
	}
	return nil
}

func (c *callConstraint) Done() bool { return false }

// Complete: free text is; a call is not until it is closed.
func (c *callConstraint) Complete() bool { return c.in == nil }
