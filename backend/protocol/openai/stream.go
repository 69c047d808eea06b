package openai

import (
	"bytes"
	"encoding/json"

	"github.com/modelbar/modelbar/backend/protocol"
)

// IsDone reports whether a server-sent event is the "data: [DONE]" that
// ends every complete OpenAI stream.
func IsDone(event []byte) bool {
	return bytes.Equal(bytes.TrimSpace(protocol.EventData(event)), []byte("[DONE]"))
}

// IsError reports whether an event is an in-band error chunk
// (`data: {"error":{...}}`, or an event named "error", which some
// compatible servers send), which ends a stream as failed.
func IsError(event []byte) bool {
	if protocol.EventName(event) == "error" {
		return true
	}
	data := protocol.EventData(event)
	if !bytes.Contains(data, []byte(`"error"`)) {
		return false
	}
	var probe struct {
		Error json.RawMessage `json:"error"`
	}
	return json.Unmarshal(data, &probe) == nil && len(probe.Error) > 0 && string(probe.Error) != "null"
}

// ErrorEvent renders an in-stream error as OpenAI does: a data line holding
// an error object, and no [DONE] after it, so a client sees a failed stream,
// never a complete one.
func ErrorEvent(errType, message string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": errType, "param": nil, "code": nil}})
	out := append([]byte("data: "), b...)
	return append(out, "\n\n"...)
}

// Finishes reports whether an event gives a choice its finish_reason. A
// stream from a compatible server that omits [DONE] is complete once it
// has had one and ends cleanly.
func Finishes(event []byte) bool {
	data := protocol.EventData(event)
	if !bytes.Contains(data, []byte(`"finish_reason"`)) {
		return false
	}
	var chunk struct {
		Choices []struct {
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
	}
	if json.Unmarshal(data, &chunk) != nil {
		return false
	}
	for _, c := range chunk.Choices {
		if c.FinishReason != nil && *c.FinishReason != "" {
			return true
		}
	}
	return false
}
