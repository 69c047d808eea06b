package anthropic

import (
	"encoding/json"
	"fmt"

	"github.com/modelbar/modelbar/backend/protocol"
)

// The wire types below are what this package writes. One struct per block
// type, because the API wants some empty members present (a text block
// starts as {"type":"text","text":""}) and others absent.

type textBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type imageBlock struct {
	Type   string      `json:"type"`
	Source imageSource `json:"source"`
}

type imageSource struct {
	Type      string `json:"type"` // "base64" or "url"
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type toolUseBlock struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type toolResultBlock struct {
	Type      string `json:"type"`
	ToolUseID string `json:"tool_use_id"`
	Content   any    `json:"content,omitempty"` // a string or an array of text and image blocks
	IsError   bool   `json:"is_error,omitempty"`
}

type thinkingBlock struct {
	Type      string `json:"type"`
	Thinking  string `json:"thinking"`
	Signature string `json:"signature"`
}

type redactedThinkingBlock struct {
	Type string `json:"type"`
	Data string `json:"data"`
}

// usage is the usage object of responses and stream events. Every count is
// written, zero or not, as the API does.
type usage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

func toWireUsage(u protocol.Usage) usage {
	return usage{
		InputTokens:              u.InputTokens,
		CacheCreationInputTokens: u.CacheWriteTokens,
		CacheReadInputTokens:     u.CacheReadTokens,
		OutputTokens:             u.OutputTokens,
	}
}

// The types below are what this package reads from a backend: responses and
// stream events.

// inUsage is a usage object as read: a count that is absent or null leaves
// the running total alone (message_delta repeats only what it knows).
type inUsage struct {
	InputTokens              *int `json:"input_tokens"`
	OutputTokens             *int `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
}

// addTo overwrites the counts of u that the backend reported. The API's
// counts are cumulative, so the last report of each wins.
func (in *inUsage) addTo(u *protocol.Usage) {
	if in == nil {
		return
	}
	set := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	set(&u.InputTokens, in.InputTokens)
	set(&u.OutputTokens, in.OutputTokens)
	set(&u.CacheWriteTokens, in.CacheCreationInputTokens)
	set(&u.CacheReadTokens, in.CacheReadInputTokens)
}

// inBlock is an output content block as read (text, thinking,
// redacted_thinking or tool_use); other members are ignored.
type inBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
	Data      string          `json:"data"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// inError is the error object of an error body or an error event.
type inError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// readOutputBlock reads one content block of a response or of a
// content_block_start event. ok is false for a block modelbar does not carry:
// server-tool blocks (server_tool_use, web_search_tool_result, ...) and types
// newer than this package, which are skipped so that the rest of the answer
// still gets through. The text of a text block with citations is kept; the
// citations are not (the internal model has no place for them).
func readOutputBlock(raw json.RawMessage) (b protocol.Block, ok bool, err error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return b, false, fmt.Errorf("content block: %w", err)
	}
	switch protocol.BlockType(head.Type) {
	case protocol.BlockText, protocol.BlockThinking, protocol.BlockRedactedThinking, protocol.BlockToolUse:
	default:
		return b, false, nil
	}
	var in inBlock
	if err := json.Unmarshal(raw, &in); err != nil {
		return b, false, fmt.Errorf("%s block: %w", head.Type, err)
	}
	return in.toBlock(), true, nil
}

func (in inBlock) toBlock() protocol.Block {
	b := protocol.Block{Type: protocol.BlockType(in.Type)}
	switch b.Type {
	case protocol.BlockText:
		b.Text = in.Text
	case protocol.BlockThinking:
		b.Text, b.Signature = in.Thinking, in.Signature
	case protocol.BlockRedactedThinking:
		b.Signature = in.Data
	case protocol.BlockToolUse:
		b.ID, b.Name, b.Input = in.ID, in.Name, compactInput(in.Input)
	}
	return b
}

// compactInput is a tool input without insignificant whitespace; {} when
// absent or null.
func compactInput(raw json.RawMessage) json.RawMessage {
	if protocol.IsNull(raw) {
		return json.RawMessage("{}")
	}
	if c, err := compactObject("", raw); err == nil {
		return c
	}
	return raw
}

// outputBlock is the wire form of a response content block.
func outputBlock(b protocol.Block) (any, error) {
	switch b.Type {
	case protocol.BlockText:
		return textBlock{"text", b.Text}, nil
	case protocol.BlockThinking:
		return thinkingBlock{"thinking", b.Text, b.Signature}, nil
	case protocol.BlockRedactedThinking:
		return redactedThinkingBlock{"redacted_thinking", b.Signature}, nil
	case protocol.BlockToolUse:
		input, err := toolInput(b.Input)
		if err != nil {
			return nil, fmt.Errorf("tool_use %s: %w", b.ID, err)
		}
		return toolUseBlock{"tool_use", b.ID, b.Name, input}, nil
	}
	return nil, fmt.Errorf("a %q block cannot be part of an answer", b.Type)
}

// toolInput is a tool_use input as the API wants it: a JSON object, {} when
// there is none.
func toolInput(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || protocol.IsNull(raw) {
		return json.RawMessage("{}"), nil
	}
	c, err := compactObject("", raw)
	if err != nil {
		return nil, fmt.Errorf("tool input %.40q is not a JSON object", raw)
	}
	return c, nil
}
