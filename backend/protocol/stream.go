package protocol

import (
	"bytes"
	"encoding/json"
)

// StreamDone reports whether event is the one that marks a complete stream in
// p: OpenAI's "data: [DONE]" or Anthropic's message_stop.
func StreamDone(p Protocol, event []byte) bool {
	if p == Anthropic {
		return EventName(event) == "message_stop"
	}
	return bytes.Equal(bytes.TrimSpace(EventData(event)), []byte("[DONE]"))
}

// StreamError renders an in-stream error event in p's own shape: what a
// client of that protocol recognises as a failed stream, never as a
// complete one.
func StreamError(p Protocol, errType, message string) []byte {
	var doc any
	var prefix string
	if p == Anthropic {
		prefix = "event: error\ndata: "
		doc = map[string]any{"type": "error", "error": map[string]string{"type": errType, "message": message}}
	} else {
		prefix = "data: "
		doc = map[string]any{"error": map[string]any{"message": message, "type": errType, "param": nil, "code": nil}}
	}
	b, _ := json.Marshal(doc)
	out := append([]byte(prefix), b...)
	return append(out, "\n\n"...)
}
