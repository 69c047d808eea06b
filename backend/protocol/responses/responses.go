// Package responses is OpenAI's Responses API (POST /v1/responses) as a
// client of modelbar speaks it: DecodeRequest turns a request into the
// internal protocol.Request, and EncodeResponse and StreamEncoder turn the
// internal answer back into a Response object or its stream of events.
// A Responses request is stateless here: the client sends the whole
// conversation as input items each turn (as Codex does with store:false);
// a request naming a previous_response_id is first made whole by Continue
// with the stored conversation the gateway keeps (stored.go).
//
// It is also the API of providers whose models speak only it (the reverse
// bridge, upstream_*.go): EncodeRequest turns the internal request of a
// chat-completions or Anthropic client into a Responses request, and
// DecodeResponse and StreamDecoder turn the provider's answer back into
// the internal model. Nothing here does I/O.
package responses

import (
	"encoding/json"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// Path is the endpoint.
const Path = "/v1/responses"

// NamespaceSep joins a namespace tool's name and one of its tools' names
// into the flat function name a backend sees ("mcp__search"); Names maps
// it back.
const NamespaceSep = "__"

// Names is what the decoder keeps in protocol.Request.Client for the
// encoder of the answer: how each flattened tool name reads to the
// client, and whether to send reasoning as encrypted_content.
type Names struct {
	// Tools maps a backend tool name to the client's tool.
	Tools map[string]ToolName
	// Encrypted: include asked for reasoning.encrypted_content.
	Encrypted bool
	// ResponseID, if set, is the response's id whatever the backend's
	// message id: one the gateway minted for a response it stores.
	ResponseID string `json:",omitempty"`
}

// ToolName is a tool as the client declared it.
type ToolName struct {
	Namespace string // "" for a top-level tool
	Name      string
	Custom    bool // a free-form (custom) tool: its one argument is CustomInput
}

// CustomInput is the one string argument of the function tool a custom
// (free-form) tool becomes.
const CustomInput = "input"

// namesOf is the client state of r, or an empty one.
func namesOf(r protocol.Request) Names {
	if n, ok := r.Client.(Names); ok {
		return n
	}
	return Names{}
}

// clientName is how a backend's tool name reads to the client.
func (n Names) clientName(name string) ToolName {
	if t, ok := n.Tools[name]; ok {
		return t
	}
	return ToolName{Name: name}
}

// Envelope is what the gateway reads before routing.
type Envelope struct {
	Model              string
	Stream             bool
	PreviousResponseID string
}

// ParseEnvelope reads the model, stream and previous_response_id fields.
func ParseEnvelope(body []byte) (Envelope, error) {
	var doc struct {
		Model    json.RawMessage `json:"model"`
		Stream   json.RawMessage `json:"stream"`
		Previous json.RawMessage `json:"previous_response_id"`
	}
	if err := protocol.DecodeObject(body, &doc); err != nil {
		return Envelope{}, err
	}
	var env Envelope
	if err := protocol.StringField("model", doc.Model, &env.Model); err != nil {
		return Envelope{}, err
	}
	if err := protocol.BoolField("stream", doc.Stream, &env.Stream); err != nil {
		return Envelope{}, err
	}
	if !protocol.IsNull(doc.Previous) {
		if json.Unmarshal(doc.Previous, &env.PreviousResponseID) != nil {
			return Envelope{}, &protocol.RequestError{Param: "previous_response_id", Message: "must be a string"}
		}
	}
	return env, nil
}

// IsDone reports whether a stream event ends a Responses stream.
func IsDone(event []byte) bool {
	t := eventType(event)
	return t == "response.completed" || t == "response.incomplete" || t == "response.failed"
}

// IsError reports whether a stream event reports a failure.
func IsError(event []byte) bool {
	t := eventType(event)
	return t == "response.failed" || t == "error"
}

func eventType(event []byte) string {
	var v struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(protocol.EventData(event), &v) == nil && v.Type != "" {
		return v.Type
	}
	for _, line := range strings.Split(string(event), "\n") {
		if t, ok := strings.CutPrefix(line, "event:"); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// ErrorEvent is the event that ends a stream with an error: an error event,
// as the API sends one for a failure outside a response.
func ErrorEvent(errType, message string) []byte {
	data, _ := protocol.Marshal(map[string]any{"type": "error", "code": errType, "message": message, "param": nil})
	return sse("error", data)
}

func sse(name string, data []byte) []byte {
	out := make([]byte, 0, len(data)+len(name)+16)
	out = append(out, "event: "+name+"\ndata: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}
