package anthropic

import (
	"encoding/json"

	"github.com/modelbar/modelbar/backend/protocol"
)

// IsDone reports whether a server-sent event is the message_stop that ends
// every complete Anthropic stream.
func IsDone(event []byte) bool { return protocol.EventName(event) == "message_stop" }

// IsError reports whether an event is an in-band error event, which ends a
// stream as failed.
func IsError(event []byte) bool { return protocol.EventName(event) == "error" }

// ErrorEvent renders an in-stream error as Anthropic does: an "error" event
// with the API's error body.
func ErrorEvent(errType, message string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": errType, "message": message}})
	out := append([]byte("event: error\ndata: "), b...)
	return append(out, "\n\n"...)
}
