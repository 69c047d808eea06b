package chattemplate

import "encoding/json"

// Input is what one render of a chat template receives. The fields become
// the variables transformers' apply_chat_template passes: messages, tools,
// add_generation_prompt, plus Extra.
type Input struct {
	// Messages is the conversation, oldest first.
	Messages []Message
	// Tools, when non-empty, is passed as the list of tool dicts and selects
	// the "tool_use" template of a model that has one; when empty the
	// template sees tools = none, as transformers passes it.
	Tools []Tool
	// AddGenerationPrompt asks the template to end with the header that
	// opens the assistant's turn.
	AddGenerationPrompt bool
	// Extra holds further template variables, such as enable_thinking for
	// Qwen3 or date_string for Llama 3.1. Values are Go values (string,
	// bool, numbers, nil, slices, maps, json.RawMessage; other types go
	// through encoding/json). They never replace messages, tools,
	// add_generation_prompt or the special tokens.
	Extra map[string]any
}

// Message is one turn. It is passed to the template as the dict
// {role, content[, reasoning_content][, tool_calls][, tool_call_id][, name]}:
// optional keys are present only when set, so `message.tool_calls is
// defined` behaves as with a transformers message that lacks the key.
type Message struct {
	// Role is "system", "user", "assistant" or "tool".
	Role string
	// Content is the text of the turn; ignored when Parts is non-nil or
	// NullContent is set.
	Content string
	// Tail is text the engine writes after Content, in the same content
	// string (Phi-4-mini's earlier tool calls, as the model writes them):
	// its markers are trusted as the template's own text is, the rest is
	// not (see Text). Ignored when Content is.
	Tail Text
	// Parts, when non-nil, makes content a list of typed parts, as
	// multimodal templates (Gemma 3) expect.
	Parts []Part
	// NullContent makes content none, as OpenAI clients send for an
	// assistant turn that only calls tools. Many templates (Qwen3 among
	// them) fail on a none content; leave it false to pass "".
	NullContent bool
	// ReasoningContent is the assistant's reasoning (reasoning_content),
	// which thinking templates such as Qwen3's render or drop.
	ReasoningContent string
	// ToolCalls are the calls an assistant turn made.
	ToolCalls []ToolCall
	// ToolCallID is, for a "tool" turn, the id of the call it answers.
	ToolCallID string
	// Name is, for a "tool" turn, the name of the tool that answered.
	Name string

	// Added for the formats of issue 16: keys only some families read.

	// Thinking is the assistant's reasoning under the key gpt-oss's
	// template reads (message.thinking), set instead of ReasoningContent.
	Thinking string
	// ToolsJSON is, for a "system" turn, the tool list as a JSON string
	// under the key tools, where Phi-4-mini's template reads it.
	ToolsJSON string
}

// Part is one element of a multimodal content list: {type: "text", text}
// or {type: "image"}.
type Part struct {
	// Type is "text" or "image".
	Type string
	// Text is the text of a "text" part.
	Text string
}

// ToolCall is one call in an assistant turn, passed as
// {id, type, function: {name, arguments}}.
type ToolCall struct {
	// ID is omitted from the dict when empty.
	ID string
	// Type defaults to "function".
	Type     string
	Function FunctionCall
}

// FunctionCall names the called function and its arguments.
type FunctionCall struct {
	Name string
	// Arguments is the JSON of the arguments. A JSON object reaches the
	// template as a dict with its keys in order, as transformers passes
	// it (so the arguments string of the OpenAI wire form goes here as it
	// is); a JSON string reaches it as a string, for the few templates
	// that concatenate arguments as text (DeepSeek V3); text that is not
	// JSON is passed as a string; empty means {}.
	Arguments json.RawMessage
}

// Tool is one tool the model may call, passed as
// {type, function: {name, description, parameters}}.
type Tool struct {
	// Type defaults to "function".
	Type     string
	Function Function
}

// Function describes a callable tool. Description and Parameters are
// omitted from the dict when empty.
type Function struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments; its key order is
	// kept, because templates print it with tojson.
	Parameters json.RawMessage
}
