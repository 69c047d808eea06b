package engine

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/modelbar/modelbar/backend/engine/chattemplate"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tokenizer"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
	"github.com/modelbar/modelbar/backend/protocol"
)

// toolsAnswer is a cached answer of toolUse for one model directory, valid
// while the directory's size on disk is unchanged.
type toolsAnswer struct {
	size  int64
	tools bool
}

// toolUse reports whether a local model can be given tools: its chat
// template renders them and the engine reads the tool calls its family
// writes. The answer is cached per directory, so a model list does not
// parse every template each time.
func (e *Engine) toolUse(en modelfile.Entry) bool {
	if !en.Usable() {
		return false
	}
	e.mu.Lock()
	a, ok := e.tools[en.Path]
	e.mu.Unlock()
	if ok && a.size == en.SizeOnDisk {
		return a.tools
	}
	tools := templateTakesTools(en.Path)
	e.mu.Lock()
	if e.tools == nil {
		e.tools = map[string]toolsAnswer{}
	}
	e.tools[en.Path] = toolsAnswer{size: en.SizeOnDisk, tools: tools}
	e.mu.Unlock()
	return tools
}

func templateTakesTools(dir string) bool {
	tpl, err := chattemplate.Load(dir)
	if err != nil {
		return false
	}
	syntax, _ := toolcall.Detect(tpl.Source())
	return tpl.SupportsTools() && syntax != toolcall.None
}

// withTurnEnds adds to stops the tokens with which the chat template's
// family ends a turn (toolcall.EndOfTurn) that are in the vocabulary: a
// config that names only the EOS (Phi-3's <|endoftext|>, gpt-oss's
// <|return|> without <|call|>) would otherwise let the model run on past
// its turn. The result is sorted and without repeats.
func withTurnEnds(stops []int, tok *tokenizer.Tokenizer, tpl *chattemplate.Template) []int {
	if tpl != nil {
		for _, s := range toolcall.EndOfTurn(tpl.Source()) {
			if id, ok := tok.TokenID(s); ok {
				stops = append(stops, id)
			}
		}
		// Harmony's <|end|> closes one message (the analysis before the
		// answer): a config that lists it would cut every answer short.
		if syntax, _ := toolcall.Detect(tpl.Source()); syntax == toolcall.Harmony {
			if end, ok := tok.TokenID("<|end|>"); ok {
				stops = slices.DeleteFunc(stops, func(id int) bool { return id == end })
			}
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(stops)))
}

// templateVars are the variables beyond the conversation that chat
// templates read to switch reasoning: enable_thinking (Qwen3, SmolLM3: on
// when the client asked for reasoning; SmolLM3's /think and /no_think in
// the system prompt still win, its template reads them) and
// reasoning_effort (gpt-oss's "Reasoning: low|medium|high" line: the
// request's effort or budget, mapped to the three levels harmony has, and
// left to the template's default when the client said nothing).
func templateVars(r protocol.Request) map[string]any {
	vars := map[string]any{"enable_thinking": r.Thinking != nil}
	effort := r.Effort
	if r.Thinking != nil {
		effort = r.Thinking.Effort
		if effort == "" && r.Thinking.BudgetTokens > 0 {
			effort = protocol.BudgetEffort(r.Thinking.BudgetTokens)
		}
	}
	switch effort {
	case "minimal", "low":
		vars["reasoning_effort"] = "low"
	case "medium":
		vars["reasoning_effort"] = "medium"
	case "high", "xhigh", "max":
		vars["reasoning_effort"] = "high"
	}
	return vars
}

// familyInput reshapes a template input for the families whose templates
// read other keys: gpt-oss's reads an assistant turn's reasoning as
// message.thinking (and renders it as the analysis channel before that
// turn's tool calls, the turn's text being a preamble), Phi-4-mini's reads the tool list as a JSON string on
// the system turn (the model card's form: name, description, parameters),
// which is added when the conversation has none.
func familyInput(in *chattemplate.Input, syntax toolcall.Syntax) {
	switch syntax {
	case toolcall.Harmony:
		for i := range in.Messages {
			m := &in.Messages[i]
			m.Thinking, m.ReasoningContent = m.ReasoningContent, ""
			// gpt-oss's template renders a tool-calling turn's content as
			// its analysis and refuses a turn with both: the text (a
			// preamble) joins the reasoning.
			if len(m.ToolCalls) > 0 && m.Thinking != "" && m.Content != "" {
				m.Thinking, m.Content = m.Thinking+"\n\n"+m.Content, ""
			}
		}
	case toolcall.Phi4:
		phiCalls(in.Messages)
		if len(in.Tools) == 0 {
			return
		}
		type phiTool struct {
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Parameters  json.RawMessage `json:"parameters,omitempty"`
		}
		tools := make([]phiTool, 0, len(in.Tools))
		for _, t := range in.Tools {
			tools = append(tools, phiTool{t.Function.Name, t.Function.Description, t.Function.Parameters})
		}
		b, err := protocol.Marshal(tools)
		if err != nil { // parameters come from a decoded request: always JSON
			return
		}
		if len(in.Messages) == 0 || in.Messages[0].Role != "system" {
			sys := chattemplate.Message{Role: "system", Content: "You are a helpful assistant with some tools."}
			in.Messages = append([]chattemplate.Message{sys}, in.Messages...)
		}
		in.Messages[0].ToolsJSON = pythonJSON(b)
	}
}

// phiCalls writes an assistant turn's tool calls after its content as
// Phi-4-mini writes them (<|tool_call|>[{"name", "arguments"}]<|/tool_call|>,
// as Ollama renders them): its template renders content only, and a tool
// loop would otherwise show the model results of calls it never made. The
// markers are the engine's text (chattemplate.Text), so they reach the
// model as the special tokens it wrote; the calls' JSON is the request's
// and stays plain text.
func phiCalls(msgs []chattemplate.Message) {
	type phiCall struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	for i := range msgs {
		m := &msgs[i]
		if len(m.ToolCalls) == 0 {
			continue
		}
		calls := make([]phiCall, 0, len(m.ToolCalls))
		for _, c := range m.ToolCalls {
			args := c.Function.Arguments
			if len(args) == 0 {
				args = json.RawMessage("{}")
			}
			calls = append(calls, phiCall{c.Function.Name, args})
		}
		b, err := protocol.Marshal(calls)
		if err != nil { // arguments come from a decoded request: always JSON
			continue
		}
		m.Tail = m.Tail.Marker("<|tool_call|>").Plain(pythonJSON(b)).Marker("<|/tool_call|>")
	}
}

// pythonJSON spaces compact JSON (protocol.Marshal's: the encoder
// compacts RawMessage values too) as Python's json.dumps does (", " and
// ": "), the form the model card shows and the model was trained on.
func pythonJSON(compact []byte) string {
	var b strings.Builder
	inStr, esc := false, false
	for _, c := range compact {
		b.WriteByte(c)
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ',' || c == ':'):
			b.WriteByte(' ')
		}
	}
	return b.String()
}
