package openai

import (
	"encoding/json"
	"fmt"

	"github.com/modelbar/modelbar/backend/protocol"
)

// rawMsg is one message of a request, its fields kept raw.
type rawMsg struct {
	Role             json.RawMessage `json:"role"`
	Content          json.RawMessage `json:"content"`
	Name             json.RawMessage `json:"name"`
	ToolCalls        json.RawMessage `json:"tool_calls"`
	ToolCallID       json.RawMessage `json:"tool_call_id"`
	FunctionCall     json.RawMessage `json:"function_call"`
	ReasoningContent json.RawMessage `json:"reasoning_content"`
	Reasoning        json.RawMessage `json:"reasoning"`
	Refusal          json.RawMessage `json:"refusal"`
}

// messageDecoder turns the messages array into Request.System and
// Request.Messages.
type messageDecoder struct {
	req *protocol.Request
	// toolTurn: the last message is a user turn made of tool results, which
	// further tool results and one user message may still join.
	toolTurn bool
	// legacy maps a function name to the ID made up for its latest legacy
	// function_call, for the function message that answers it; calls counts
	// those calls.
	legacy map[string]string
	calls  int
	// held are system messages that came inside a tool turn: they follow
	// the turn once it is complete.
	held []protocol.Message
}

// decodeMessages converts the messages array:
//
//   - system and developer messages before the first other message become
//     Request.System blocks in order, one per text part; later ones become
//     protocol.RoleSystem messages where they are (inside a run of tool
//     messages: right after the turn they make).
//   - user content is text and image_url parts (see imageBlock); input_audio
//     and file parts are refused as unsupported. A participant "name" is
//     dropped.
//   - assistant: reasoning_content (or reasoning) becomes a thinking block
//     first, then the content (text and refusal parts both become text),
//     then the refusal field as text, then tool_calls and a legacy
//     function_call as tool_use blocks.
//   - tool messages become tool_result blocks (IsError false: OpenAI has no
//     such flag). Consecutive tool messages, and the user message directly
//     after them, make one user message with the tool results first, as
//     Anthropic requires. System messages in between do not separate them.
//   - legacy function messages become tool_results for the latest legacy
//     function_call of that name (see functionCall).
//
// Empty text is dropped, except that a message left with no content at all
// keeps one empty text block, so that no turn disappears.
func decodeMessages(doc *rawRequest, req *protocol.Request) error {
	if protocol.IsNull(doc.Messages) {
		return fieldError("messages", "is required")
	}
	var msgs []json.RawMessage
	if json.Unmarshal(doc.Messages, &msgs) != nil {
		return fieldError("messages", "must be an array of messages")
	}
	if len(msgs) == 0 {
		return fieldError("messages", "must contain at least one message")
	}
	d := &messageDecoder{req: req, legacy: map[string]string{}}
	for i, raw := range msgs {
		if err := d.message(fmt.Sprintf("messages[%d]", i), raw); err != nil {
			return err
		}
	}
	d.release()
	return nil
}

// release appends the system messages held back during a tool turn.
func (d *messageDecoder) release() {
	d.req.Messages = append(d.req.Messages, d.held...)
	d.held = nil
}

func (d *messageDecoder) message(p string, raw json.RawMessage) error {
	var m rawMsg
	if protocol.IsNull(raw) {
		return fieldError(p, "must be an object")
	}
	if err := object(p, raw, &m); err != nil {
		return err
	}
	role, err := reqString(p+".role", m.Role)
	if err != nil {
		return err
	}
	switch role {
	case "system", "developer":
		return d.system(p, &m)
	case "user":
		return d.user(p, &m)
	case "assistant":
		return d.assistant(p, &m)
	case "tool":
		return d.tool(p, &m)
	case "function":
		return d.function(p, &m)
	}
	return fieldError(p+".role", "must be one of system, developer, user, assistant, tool or function, got %q", role)
}

func (d *messageDecoder) system(p string, m *rawMsg) error {
	texts, err := textContent(p+".content", m.Content, "text")
	if err != nil {
		return err
	}
	blocks := textBlocks(texts)
	switch {
	case len(d.req.Messages) == 0:
		d.req.System = append(d.req.System, blocks...)
	case len(blocks) == 0:
	case d.toolTurn:
		d.held = append(d.held, protocol.Message{Role: protocol.RoleSystem, Content: blocks})
	default:
		d.req.Messages = append(d.req.Messages, protocol.Message{Role: protocol.RoleSystem, Content: blocks})
	}
	return nil
}

func (d *messageDecoder) user(p string, m *rawMsg) error {
	blocks, err := userContent(p+".content", m.Content)
	if err != nil {
		return err
	}
	blocks = dropEmptyText(blocks)
	if d.toolTurn {
		last := &d.req.Messages[len(d.req.Messages)-1]
		last.Content = append(last.Content, blocks...)
		d.toolTurn = false
		d.release()
		return nil
	}
	d.req.Messages = append(d.req.Messages, protocol.Message{Role: protocol.RoleUser, Content: orEmpty(blocks)})
	return nil
}

func (d *messageDecoder) assistant(p string, m *rawMsg) error {
	thinking, err := reasoningText(p, m)
	if err != nil {
		return err
	}
	content, err := textContent(p+".content", m.Content, "text", "refusal")
	if err != nil && !protocol.IsNull(m.Content) {
		return err
	}
	refusal, err := optString(p+".refusal", m.Refusal)
	if err != nil {
		return err
	}
	calls, err := d.toolCalls(p, m)
	if err != nil {
		return err
	}
	if protocol.IsNull(m.Content) && len(calls) == 0 && refusal == "" {
		return fieldError(p+".content", "is required unless tool_calls is given")
	}
	var blocks []protocol.Block
	if thinking != "" {
		blocks = append(blocks, protocol.Block{Type: protocol.BlockThinking, Text: thinking})
	}
	blocks = append(blocks, textBlocks(append(content, refusal))...)
	blocks = append(blocks, calls...)
	d.release()
	d.req.Messages = append(d.req.Messages, protocol.Message{Role: protocol.RoleAssistant, Content: orEmpty(blocks)})
	d.toolTurn = false
	return nil
}

// reasoningText is an assistant message's reasoning: reasoning_content
// (DeepSeek, vLLM) or, failing that, reasoning (Ollama, OpenRouter).
func reasoningText(p string, m *rawMsg) (string, error) {
	text, err := optString(p+".reasoning_content", m.ReasoningContent)
	if err != nil || text != "" {
		return text, err
	}
	return optString(p+".reasoning", m.Reasoning)
}

func (d *messageDecoder) tool(p string, m *rawMsg) error {
	id, err := reqString(p+".tool_call_id", m.ToolCallID)
	if err != nil {
		return err
	}
	texts, err := textContent(p+".content", m.Content, "text")
	if err != nil {
		return err
	}
	d.appendResult(protocol.Block{Type: protocol.BlockToolResult, ToolUseID: id, Content: textBlocks(texts)})
	return nil
}

// function converts a legacy function message. Its tool_use_id is the ID
// made up for the latest function_call of the same name, or, when there was
// none, "call_fn_" and the name.
func (d *messageDecoder) function(p string, m *rawMsg) error {
	name, err := reqString(p+".name", m.Name)
	if err != nil {
		return err
	}
	text, err := optString(p+".content", m.Content)
	if err != nil {
		return err
	}
	id, ok := d.legacy[name]
	if !ok {
		id = "call_fn_" + name
	}
	d.appendResult(protocol.Block{Type: protocol.BlockToolResult, ToolUseID: id, Content: textBlocks([]string{text})})
	return nil
}

func (d *messageDecoder) appendResult(b protocol.Block) {
	if d.toolTurn {
		last := &d.req.Messages[len(d.req.Messages)-1]
		last.Content = append(last.Content, b)
		return
	}
	d.req.Messages = append(d.req.Messages, protocol.Message{Role: protocol.RoleUser, Content: []protocol.Block{b}})
	d.toolTurn = true
}

// textBlocks makes a text block of each non-empty text.
func textBlocks(texts []string) []protocol.Block {
	var blocks []protocol.Block
	for _, t := range texts {
		if t != "" {
			blocks = append(blocks, protocol.Block{Type: protocol.BlockText, Text: t})
		}
	}
	return blocks
}

func dropEmptyText(blocks []protocol.Block) []protocol.Block {
	var out []protocol.Block
	for _, b := range blocks {
		if b.Type != protocol.BlockText || b.Text != "" {
			out = append(out, b)
		}
	}
	return out
}

// orEmpty keeps a turn that has no content as one empty text block.
func orEmpty(blocks []protocol.Block) []protocol.Block {
	if len(blocks) == 0 {
		return []protocol.Block{{Type: protocol.BlockText}}
	}
	return blocks
}
