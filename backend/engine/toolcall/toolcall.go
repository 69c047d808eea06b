// Package toolcall reads a local model's streamed output the way its family
// writes it: reasoning between <think> tags, and tool calls in the family's
// own syntax (Qwen's, SmolLM3's and Hermes' <tool_call> JSON, Llama 3's
// bare JSON or <|python_tag|>, Mistral's and Mixtral's [TOOL_CALLS],
// Phi-4-mini's <|tool_call|>, and gpt-oss's harmony channels, where the
// analysis channel is the reasoning). It turns them into text,
// reasoning and tool-call parts as they become certain; what does not parse
// as a call is given back as text, never lost.
package toolcall

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Syntax is a model family's way of writing tool calls.
type Syntax int

const (
	None    Syntax = iota // no tool-call syntax known: everything is text
	Hermes                // <tool_call>{"name","arguments"}</tool_call> (Qwen 2.5, Qwen 3, Hermes)
	Llama3                // {"name","parameters"} as the whole answer, optionally after <|python_tag|>
	Mistral               // [TOOL_CALLS][{"name","arguments"}, ...] (Mistral, Mixtral)
	Harmony               // gpt-oss: <|channel|>analysis / final, calls to=functions.NAME ... <|call|>
	Phi4                  // Phi-4-mini: <|tool_call|>[{"name","arguments"}]<|/tool_call|> (or functools[...])
)

// Detect picks the syntax (and whether the model reasons: in <think> tags,
// or in harmony's analysis channel) from the markers its chat template
// uses. Templates without a tool syntax (Gemma 3, Phi-3, Phi-4, Mixtral
// 8x7B) give None: their models are not offered tools.
func Detect(chatTemplate string) (Syntax, bool) {
	think := strings.Contains(chatTemplate, "<think>")
	switch {
	case strings.Contains(chatTemplate, hChannel) && strings.Contains(chatTemplate, hMessage):
		return Harmony, true
	case strings.Contains(chatTemplate, "<|tool|>") || strings.Contains(chatTemplate, phiOpen):
		return Phi4, think
	case strings.Contains(chatTemplate, "<tool_call>"):
		return Hermes, think
	case strings.Contains(chatTemplate, "[TOOL_CALLS]"):
		return Mistral, think
	case strings.Contains(chatTemplate, "<|python_tag|>"), strings.Contains(chatTemplate, "ipython"):
		return Llama3, think
	}
	return None, think
}

// turnEnds maps a marker of a chat template to the tokens with which its
// family's models end their turn. A model's config often names only its
// EOS (Phi-3's <|endoftext|>, gpt-oss's <|return|>), while the model ends
// a turn with the template's own token.
var turnEnds = []struct {
	marker string
	ends   []string
}{
	{hChannel, []string{hReturn, hCall}}, // harmony, first: its <|end|> ends a message, not the turn
	{"<|im_end|>", []string{"<|im_end|>"}},
	{"<end_of_turn>", []string{"<end_of_turn>"}},
	{"<|eot_id|>", []string{"<|eot_id|>", "<|eom_id|>"}},
	{"<|end|>", []string{"<|end|>"}}, // Phi-3, Phi-4-mini
}

// EndOfTurn returns the token strings that end a model's turn in the
// family whose chat template this is, for the engine to stop at (when
// they are in the model's vocabulary). For harmony it is <|return|> and
// <|call|>, and never <|end|>, which only ends one message of the turn.
func EndOfTurn(chatTemplate string) []string {
	for _, te := range turnEnds {
		if strings.Contains(chatTemplate, te.marker) {
			return te.ends
		}
	}
	return nil
}

// WithoutTools is the syntax to read an answer to a request that offers
// no tools: a JSON answer is then an answer, not a call. Harmony keeps its
// syntax, which also carries the reasoning (a call it still writes comes
// out as text, being to no offered tool).
func (s Syntax) WithoutTools() Syntax {
	if s == Harmony {
		return Harmony
	}
	return None
}

// Kind is what a part of the output is.
type Kind int

const (
	Text Kind = iota
	Reasoning
	Call
)

// Part is a piece of the model's output.
type Part struct {
	Kind      Kind
	Text      string          // Text and Reasoning
	Name      string          // Call
	Arguments json.RawMessage // Call: a JSON object
}

// call is the JSON of one tool call, in any family's field names.
type call struct {
	Name       string          `json:"name"`
	Arguments  json.RawMessage `json:"arguments"`
	Parameters json.RawMessage `json:"parameters"`
	Function   *call           `json:"function"` // OpenAI's {"type": "function", "function": {...}}
}

// parseCalls reads one call object or an array of them; ok is false when s
// is not tool-call JSON.
func parseCalls(s string) ([]Part, bool) {
	s = strings.TrimSpace(s)
	var calls []call
	if strings.HasPrefix(s, "[") {
		if json.Unmarshal([]byte(s), &calls) != nil {
			return nil, false
		}
	} else {
		// Llama 3 may put several calls one after another, separated by ';'.
		for _, one := range splitTopLevel(s, ';') {
			var c call
			if json.Unmarshal([]byte(one), &c) != nil {
				return nil, false
			}
			calls = append(calls, c)
		}
	}
	if len(calls) == 0 {
		return nil, false
	}
	parts := make([]Part, 0, len(calls))
	for _, c := range calls {
		if c.Name == "" && c.Function != nil {
			c = *c.Function
		}
		args := c.Arguments
		if len(args) == 0 {
			args = c.Parameters
		}
		args, ok := objectArguments(args)
		if c.Name == "" || !ok {
			return nil, false
		}
		parts = append(parts, Part{Kind: Call, Name: c.Name, Arguments: args})
	}
	return parts, true
}

// objectArguments accepts an object, or a string holding one (some models
// write arguments as a JSON string); absent means no arguments.
func objectArguments(raw json.RawMessage) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}"), true
	}
	var inner string
	if json.Unmarshal(raw, &inner) == nil {
		raw = json.RawMessage(strings.TrimSpace(inner))
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil, false
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// splitTopLevel splits s at sep outside JSON strings and brackets.
func splitTopLevel(s string, sep byte) []string {
	var parts []string
	depth, start, inStr, esc := 0, 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		parts = append(parts, rest)
	}
	return parts
}
