package openai

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// functionNameRE is OpenAI's rule for function names (Anthropic's is the
// same).
var functionNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// defaultParameters is the schema of a function declared without one: it
// takes no arguments.
var defaultParameters = json.RawMessage(`{"type":"object","properties":{}}`)

// toolCalls converts an assistant message's tool_calls, and its legacy
// function_call, into tool_use blocks. "type" may be omitted (it can only
// be "function"); the arguments must be a string holding a JSON object, ""
// meaning {}.
func (d *messageDecoder) toolCalls(p string, m *rawMsg) ([]protocol.Block, error) {
	items, err := optArray(p+".tool_calls", m.ToolCalls)
	if err != nil {
		return nil, err
	}
	blocks := make([]protocol.Block, 0, len(items)+1)
	for j, raw := range items {
		b, err := toolCall(fmt.Sprintf("%s.tool_calls[%d]", p, j), raw)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
	}
	if protocol.IsNull(m.FunctionCall) {
		return blocks, nil
	}
	b, err := d.functionCall(p+".function_call", m.FunctionCall)
	return append(blocks, b), err
}

func toolCall(p string, raw json.RawMessage) (protocol.Block, error) {
	var tc struct {
		ID       json.RawMessage `json:"id"`
		Type     json.RawMessage `json:"type"`
		Function json.RawMessage `json:"function"`
	}
	if err := object(p, raw, &tc); err != nil {
		return protocol.Block{}, err
	}
	id, err := reqString(p+".id", tc.ID)
	if err != nil {
		return protocol.Block{}, err
	}
	typ, err := optString(p+".type", tc.Type)
	if err != nil {
		return protocol.Block{}, err
	}
	if typ != "" && typ != "function" {
		return protocol.Block{}, fieldError(p+".type", "must be function, got %q", typ)
	}
	b, err := function(p+".function", tc.Function)
	b.ID = id
	return b, err
}

// function decodes a {"name","arguments"} object into a tool_use block
// without an ID.
func function(p string, raw json.RawMessage) (protocol.Block, error) {
	var fn struct {
		Name      json.RawMessage `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := object(p, raw, &fn); err != nil {
		return protocol.Block{}, err
	}
	name, err := reqString(p+".name", fn.Name)
	if err != nil {
		return protocol.Block{}, err
	}
	var args string
	if protocol.IsNull(fn.Arguments) || json.Unmarshal(fn.Arguments, &args) != nil {
		return protocol.Block{}, fieldError(p+".arguments", "must be a string holding a JSON object")
	}
	input, ok := objectArguments(args)
	if !ok {
		return protocol.Block{}, fieldError(p+".arguments", "must be a JSON object, got %s", truncate(args, 80))
	}
	return protocol.Block{Type: protocol.BlockToolUse, Name: name, Input: input}, nil
}

// functionCall converts a legacy function_call. OpenAI gave these no ID, so
// one is made up: "call_fn_" and the number of legacy calls before it in
// the request; the function messages of that name after it answer it.
func (d *messageDecoder) functionCall(p string, raw json.RawMessage) (protocol.Block, error) {
	b, err := function(p, raw)
	if err != nil {
		return b, err
	}
	b.ID = fmt.Sprintf("call_fn_%d", d.calls)
	d.legacy[b.Name], d.calls = b.ID, d.calls+1
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q…", s[:n])
}

// decodeTools converts tools (only type "function"; a missing parameters
// schema means "no arguments", {"type":"object","properties":{}}; "strict"
// is dropped) and, when tools is absent, the legacy functions array.
func decodeTools(doc *rawRequest, req *protocol.Request) error {
	items, err := optArray("tools", doc.Tools)
	if err != nil {
		return err
	}
	for i, raw := range items {
		t, err := tool(fmt.Sprintf("tools[%d]", i), raw)
		if err != nil {
			return err
		}
		req.Tools = append(req.Tools, t)
	}
	if !protocol.IsNull(doc.Tools) {
		return nil
	}
	if items, err = optArray("functions", doc.Functions); err != nil {
		return err
	}
	for i, raw := range items {
		t, err := toolFunction(fmt.Sprintf("functions[%d]", i), raw)
		if err != nil {
			return err
		}
		req.Tools = append(req.Tools, t)
	}
	return nil
}

func tool(p string, raw json.RawMessage) (protocol.Tool, error) {
	var t struct {
		Type     json.RawMessage `json:"type"`
		Function json.RawMessage `json:"function"`
	}
	if protocol.IsNull(raw) {
		return protocol.Tool{}, fieldError(p, "must be an object")
	}
	if err := object(p, raw, &t); err != nil {
		return protocol.Tool{}, err
	}
	typ, err := reqString(p+".type", t.Type)
	if err != nil {
		return protocol.Tool{}, err
	}
	if typ != "function" {
		return protocol.Tool{}, fieldError(p+".type", "must be function, got %q", typ)
	}
	return toolFunction(p+".function", t.Function)
}

func toolFunction(p string, raw json.RawMessage) (protocol.Tool, error) {
	var fn struct {
		Name        json.RawMessage `json:"name"`
		Description json.RawMessage `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	}
	if err := object(p, raw, &fn); err != nil {
		return protocol.Tool{}, err
	}
	name, err := reqString(p+".name", fn.Name)
	if err != nil {
		return protocol.Tool{}, err
	}
	if !functionNameRE.MatchString(name) {
		return protocol.Tool{}, fieldError(p+".name", "must be 1 to 64 letters, digits, underscores or dashes, got %q", name)
	}
	desc, err := optString(p+".description", fn.Description)
	if err != nil {
		return protocol.Tool{}, err
	}
	params := defaultParameters
	if !protocol.IsNull(fn.Parameters) {
		if _, err := optObject(p+".parameters", fn.Parameters); err != nil {
			return protocol.Tool{}, err
		}
		params = fn.Parameters
	}
	return protocol.Tool{Name: name, Description: desc, InputSchema: params}, nil
}

// decodeToolChoice converts tool_choice ("auto", "none", "required", or
// {"type":"function","function":{"name":...}} naming a declared tool) or,
// in its absence, the legacy function_call ("auto", "none",
// {"name":...}). parallel_tool_calls=false sets DisableParallel, on an
// "auto" choice when no tool_choice was given.
func decodeToolChoice(doc *rawRequest, req *protocol.Request) error {
	tc, err := toolChoice(doc, req.Tools)
	if err != nil {
		return err
	}
	parallel, err := optBool("parallel_tool_calls", doc.ParallelToolCalls)
	if err != nil {
		return err
	}
	if parallel != nil && !*parallel {
		if tc == nil {
			tc = &protocol.ToolChoice{Mode: protocol.ToolChoiceAuto}
		}
		tc.DisableParallel = true
	}
	req.ToolChoice = tc
	return nil
}

func toolChoice(doc *rawRequest, tools []protocol.Tool) (*protocol.ToolChoice, error) {
	var s string
	switch {
	case !protocol.IsNull(doc.ToolChoice) && json.Unmarshal(doc.ToolChoice, &s) == nil:
		return choiceMode("tool_choice", s, "auto", "none", "required")
	case !protocol.IsNull(doc.ToolChoice):
		return functionChoice(doc.ToolChoice, tools)
	case !protocol.IsNull(doc.FunctionCall) && json.Unmarshal(doc.FunctionCall, &s) == nil:
		return choiceMode("function_call", s, "auto", "none")
	case !protocol.IsNull(doc.FunctionCall):
		return namedChoice("function_call", doc.FunctionCall, tools)
	}
	return nil, nil
}

// choiceMode decodes the string form of a tool choice, one of modes.
func choiceMode(p, s string, modes ...string) (*protocol.ToolChoice, error) {
	if !slices.Contains(modes, s) {
		return nil, fieldError(p, "must be %s, or an object naming a function; got %q", strings.Join(modes, ", "), s)
	}
	return &protocol.ToolChoice{Mode: protocol.ToolChoiceMode(s)}, nil
}

// functionChoice decodes {"type":"function","function":{"name":...}}.
func functionChoice(raw json.RawMessage, tools []protocol.Tool) (*protocol.ToolChoice, error) {
	var obj struct {
		Type     json.RawMessage `json:"type"`
		Function json.RawMessage `json:"function"`
	}
	if err := object("tool_choice", raw, &obj); err != nil {
		return nil, err
	}
	typ, err := reqString("tool_choice.type", obj.Type)
	if err != nil {
		return nil, err
	}
	if typ != "function" {
		return nil, fieldError("tool_choice.type", "must be function, got %q", typ)
	}
	return namedChoice("tool_choice.function", obj.Function, tools)
}

// namedChoice decodes the {"name":...} object at p, which must name a tool.
func namedChoice(p string, raw json.RawMessage, tools []protocol.Tool) (*protocol.ToolChoice, error) {
	var fn struct {
		Name json.RawMessage `json:"name"`
	}
	if err := object(p, raw, &fn); err != nil {
		return nil, err
	}
	name, err := reqString(p+".name", fn.Name)
	if err != nil {
		return nil, err
	}
	for _, t := range tools {
		if t.Name == name {
			return &protocol.ToolChoice{Mode: protocol.ToolChoiceTool, Name: name}, nil
		}
	}
	return nil, fieldError(p+".name", "names no function in tools: %q", name)
}
