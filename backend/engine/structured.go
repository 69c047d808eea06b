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

	mu   sync.Mutex
	with map[byte][]int32 // holding's answers
}

// holding lists the tokens of v whose bytes hold b (those that can end a
// marker written as text), computed once per byte.
func (vs *vocabs) holding(v *grammar.Vocab, b byte) []int32 {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if ids, ok := vs.with[b]; ok {
		return ids
	}
	var ids []int32
	for id := range v.Size() {
		if bytes.IndexByte(v.Bytes(id), b) >= 0 {
			ids = append(ids, int32(id))
		}
	}
	if vs.with == nil {
		vs.with = map[byte][]int32{}
	}
	vs.with[b] = ids
	return ids
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
// format (the whole answer is the JSON), or else, for a request that
// offers tools, each tool call in the family's syntax (calls.go): the
// text around calls stays free, a call's JSON names an offered tool and
// its arguments follow that tool's schema. With tool_choice required or
// a named tool, the answer starts with a call where the family allows
// it. nil: no constraint.
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
	offered := callTools(r)
	forced := forcedTools(r, offered)
	var (
		c   generate.Constraint
		err error
	)
	switch l.syntax {
	case toolcall.Hermes:
		c, err = l.hermesCalls(offered, forced, opened)
	case toolcall.Llama3:
		c, err = l.llamaCalls(offered, forced, opened)
	case toolcall.Mistral:
		c, err = l.markedCalls(offered, forced, opened, mistralOpen, "")
	case toolcall.Phi4:
		c, err = l.markedCalls(offered, forced, opened, phiOpen, phiClose)
	case toolcall.Harmony:
		c, err = l.harmonyCalls(offered, forced)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	return c, nil
}

// The markers of the families' calls (package toolcall reads them).
const (
	hermesOpen  = "<tool_call>"
	hermesClose = "</tool_call>"
	thinkClose  = "</think>"
	pythonTag   = "<|python_tag|>" // Llama 3
	mistralOpen = "[TOOL_CALLS]"
	phiOpen     = "<|tool_call|>"
	phiClose    = "<|/tool_call|>"
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
