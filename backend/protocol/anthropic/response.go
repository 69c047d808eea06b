package anthropic

import (
	"encoding/json"
	"fmt"

	"github.com/modelbar/modelbar/backend/protocol"
)

// inResponse is a Messages response (or error body) as read.
type inResponse struct {
	Type         string            `json:"type"`
	ID           string            `json:"id"`
	Model        string            `json:"model"`
	Content      []json.RawMessage `json:"content"`
	StopReason   *string           `json:"stop_reason"`
	StopSequence *string           `json:"stop_sequence"`
	Usage        *inUsage          `json:"usage"`
	Error        *inError          `json:"error"`
}

// DecodeMessagesResponse converts a backend's {"type":"message"} object.
// Any other body is an error: an error body ({"type":"error"}) says the
// backend's error type and message.
//
// Content keeps text, thinking (with its signature), redacted_thinking
// (data in Block.Signature) and tool_use blocks. Server-tool blocks
// (server_tool_use, web_search_tool_result, ...) and block types newer than
// this package are skipped; text blocks keep their text and lose their
// citations. stop_reason is kept as the backend said it, including values
// newer than the internal constants; null is "". Usage maps input_tokens,
// output_tokens, cache_creation_input_tokens and cache_read_input_tokens to
// InputTokens, OutputTokens, CacheWriteTokens and CacheReadTokens.
func DecodeMessagesResponse(body []byte) (protocol.Response, error) {
	var in inResponse
	if err := json.Unmarshal(body, &in); err != nil {
		return protocol.Response{}, fmt.Errorf("messages response: %w", err)
	}
	switch {
	case in.Type == "error" && in.Error != nil:
		return protocol.Response{}, fmt.Errorf("messages response is an error: %s: %s", in.Error.Type, in.Error.Message)
	case in.Type != "message":
		return protocol.Response{}, fmt.Errorf("messages response has type %q, not \"message\"", in.Type)
	}
	r := protocol.Response{ID: in.ID, Model: in.Model, StopReason: protocol.StopReason(deref(in.StopReason)), StopSequence: deref(in.StopSequence)}
	in.Usage.addTo(&r.Usage)
	for i, raw := range in.Content {
		b, ok, err := readOutputBlock(raw)
		if err != nil {
			return protocol.Response{}, fmt.Errorf("messages response: content.%d: %w", i, err)
		}
		if ok {
			r.Content = append(r.Content, b)
		}
	}
	return r, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// outResponse is a Messages response, in the API's field order.
type outResponse struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Role         string  `json:"role"`
	Model        string  `json:"model"`
	Content      []any   `json:"content"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        usage   `json:"usage"`
}

// EncodeMessagesResponse renders r as the API's response object:
// {"id","type":"message","role":"assistant","model","content":[...],
// "stop_reason","stop_sequence","usage":{"input_tokens",
// "cache_creation_input_tokens","cache_read_input_tokens","output_tokens"}}.
// ID and Model are written as given. An empty StopReason or StopSequence is
// null. Content may hold text, thinking, redacted_thinking and tool_use
// blocks; a tool_use whose Input is not a JSON object (a model of another
// backend may produce broken arguments) is an error, since the API's
// clients read input as an object; absent Input is {}.
func EncodeMessagesResponse(r protocol.Response) ([]byte, error) {
	out := outResponse{
		ID: r.ID, Type: "message", Role: "assistant", Model: r.Model,
		Content:    make([]any, 0, len(r.Content)),
		StopReason: nullable(string(r.StopReason)), StopSequence: nullable(r.StopSequence),
		Usage: toWireUsage(r.Usage),
	}
	for _, b := range r.Content {
		wire, err := outputBlock(b)
		if err != nil {
			return nil, fmt.Errorf("encode messages response: %w", err)
		}
		out.Content = append(out.Content, wire)
	}
	return protocol.Marshal(out)
}

// nullable is nil for "": written as null.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
