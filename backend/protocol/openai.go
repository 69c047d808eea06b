package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// RequestError is a client request the API refuses; Param names the field.
type RequestError struct {
	Param   string
	Message string
}

func (e *RequestError) Error() string {
	if e.Param == "" {
		return e.Message
	}
	return e.Param + ": " + e.Message
}

// Envelope is what the gateway needs to know of an inference request before
// routing it; the body itself travels on untouched.
type Envelope struct {
	Model  string
	Stream bool
	// IncludeUsage: an OpenAI streaming client asked for a final usage chunk.
	IncludeUsage bool
}

// Endpoint names an inference endpoint by its public path.
type Endpoint string

const (
	ChatCompletions Endpoint = "/v1/chat/completions"
	Completions     Endpoint = "/v1/completions"
	Embeddings      Endpoint = "/v1/embeddings"
)

// ParseOpenAI validates an OpenAI request body for endpoint as the OpenAI API
// does for the fields modelbar relies on, and returns its envelope.
func ParseOpenAI(endpoint Endpoint, body []byte) (Envelope, error) {
	var doc struct {
		Model         json.RawMessage `json:"model"`
		Stream        json.RawMessage `json:"stream"`
		StreamOptions json.RawMessage `json:"stream_options"`
		Messages      json.RawMessage `json:"messages"`
		Prompt        json.RawMessage `json:"prompt"`
		Input         json.RawMessage `json:"input"`
	}
	if err := decodeObject(body, &doc); err != nil {
		return Envelope{}, err
	}
	var env Envelope
	if err := stringField("model", doc.Model, &env.Model); err != nil {
		return Envelope{}, err
	}
	if err := boolField("stream", doc.Stream, &env.Stream); err != nil {
		return Envelope{}, err
	}
	if err := required(endpoint, doc.Messages, doc.Prompt, doc.Input); err != nil {
		return Envelope{}, err
	}
	if len(doc.StreamOptions) > 0 && !isNull(doc.StreamOptions) {
		var so struct {
			IncludeUsage bool `json:"include_usage"`
		}
		if json.Unmarshal(doc.StreamOptions, &so) != nil {
			return Envelope{}, &RequestError{"stream_options", "must be an object"}
		}
		env.IncludeUsage = so.IncludeUsage
	}
	return env, nil
}

func required(endpoint Endpoint, messages, prompt, input json.RawMessage) error {
	switch endpoint {
	case ChatCompletions:
		var msgs []json.RawMessage
		if isNull(messages) {
			return &RequestError{"messages", "is required"}
		}
		if json.Unmarshal(messages, &msgs) != nil {
			return &RequestError{"messages", "must be an array of messages"}
		}
		if len(msgs) == 0 {
			return &RequestError{"messages", "must contain at least one message"}
		}
	case Completions:
		if isNull(prompt) {
			return &RequestError{"prompt", "is required"}
		}
	case Embeddings:
		if isNull(input) {
			return &RequestError{"input", "is required"}
		}
	}
	return nil
}

// decodeObject decodes a JSON object, turning syntax errors into a
// RequestError that says where the JSON broke.
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return &RequestError{"", "request body is empty: send a JSON object"}
	}
	if trimmed[0] != '{' {
		return &RequestError{"", "request body must be a JSON object"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return &RequestError{"", fmt.Sprintf("request body is not valid JSON: %v (at byte %d)", syn, syn.Offset)}
		case errors.As(err, &typ):
			return &RequestError{typ.Field, fmt.Sprintf("has the wrong type: %v", typ)}
		}
		return &RequestError{"", "request body is not valid JSON: " + err.Error()}
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func stringField(name string, raw json.RawMessage, dst *string) error {
	if isNull(raw) {
		return &RequestError{name, "is required"}
	}
	if json.Unmarshal(raw, dst) != nil {
		return &RequestError{name, "must be a string"}
	}
	if *dst == "" {
		return &RequestError{name, "must not be empty"}
	}
	return nil
}

func boolField(name string, raw json.RawMessage, dst *bool) error {
	if isNull(raw) {
		return nil
	}
	if json.Unmarshal(raw, dst) != nil {
		return &RequestError{name, "must be true or false"}
	}
	return nil
}
