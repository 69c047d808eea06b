// Package openai is the OpenAI wire format: request validation, and the
// conversion of chat requests, responses and streams to and from the
// internal model in package protocol. Pure: no I/O.
package openai

import (
	"bytes"
	"encoding/json"

	"github.com/modelbar/modelbar/backend/protocol"
)

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

// ParseEnvelope checks only what routing and accounting need of an OpenAI
// request body for endpoint — a JSON object, model, stream,
// stream_options, and the input the endpoint requires (messages a
// non-empty array, which both APIs require, prompt, input) — and returns
// its envelope. The rest travels on to a provider of the API untouched,
// for it to judge.
func ParseEnvelope(endpoint Endpoint, body []byte) (Envelope, error) {
	var doc struct {
		Model         json.RawMessage `json:"model"`
		Stream        json.RawMessage `json:"stream"`
		StreamOptions json.RawMessage `json:"stream_options"`
		Messages      json.RawMessage `json:"messages"`
		Prompt        json.RawMessage `json:"prompt"`
		Input         json.RawMessage `json:"input"`
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
	if err := required(endpoint, doc.Messages, doc.Prompt, doc.Input); err != nil {
		return Envelope{}, err
	}
	if len(doc.StreamOptions) > 0 && !protocol.IsNull(doc.StreamOptions) {
		var so struct {
			IncludeUsage bool `json:"include_usage"`
		}
		if json.Unmarshal(doc.StreamOptions, &so) != nil {
			return Envelope{}, &protocol.RequestError{Param: "stream_options", Message: "must be an object"}
		}
		env.IncludeUsage = so.IncludeUsage
	}
	return env, nil
}

func required(endpoint Endpoint, messages, prompt, input json.RawMessage) error {
	switch endpoint {
	case ChatCompletions:
		// messages is valid JSON (the body decoded): looking at its first
		// bytes tells an array, and an empty one, without copying it.
		if protocol.IsNull(messages) {
			return &protocol.RequestError{Param: "messages", Message: "is required"}
		}
		if messages[0] != '[' {
			return &protocol.RequestError{Param: "messages", Message: "must be an array of messages"}
		}
		if bytes.TrimLeft(messages[1:], " \t\r\n")[0] == ']' {
			return &protocol.RequestError{Param: "messages", Message: "must contain at least one message"}
		}
	case Completions:
		if protocol.IsNull(prompt) {
			return &protocol.RequestError{Param: "prompt", Message: "is required"}
		}
	case Embeddings:
		if protocol.IsNull(input) {
			return &protocol.RequestError{Param: "input", Message: "is required"}
		}
	}
	return nil
}
