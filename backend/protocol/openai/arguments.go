package openai

import (
	"bytes"
	"encoding/json"

	"github.com/modelbar/modelbar/backend/protocol"
)

// OpenAI carries a tool call's input as function.arguments, a string holding
// JSON; the internal model (Block.Input) holds the JSON itself. These
// functions convert between the two.

// objectArguments parses the arguments of a tool call a client sent back in
// its history: "" (or only whitespace) means no arguments, {}; anything else
// must be a JSON object. ok is false otherwise.
func objectArguments(s string) (input json.RawMessage, ok bool) {
	t := bytes.TrimSpace([]byte(s))
	if len(t) == 0 {
		return json.RawMessage("{}"), true
	}
	if t[0] != '{' || !json.Valid(t) {
		return nil, false
	}
	return json.RawMessage(t), true
}

// invalidArgumentsKey is the one key of the Input that stands for
// arguments that were not a JSON object (see modelArguments).
const invalidArgumentsKey = "_invalid_arguments"

// modelArguments converts the arguments a model produced. A model can
// produce anything, and a broken tool call must not fail the whole answer.
// Input must still be a JSON object (the Anthropic encoders refuse
// anything else, as Anthropic's clients read input as an object), so
// arguments that are not one are kept verbatim as the string value of the
// one key "_invalid_arguments": the client's validation of the call fails
// and names that key, the model is told so and can retry, and
// argumentsText turns the Input back into exactly what the model wrote, so
// the history sent back to the model shows it. "" is {}, as from a client.
func modelArguments(s string) json.RawMessage {
	if input, ok := objectArguments(s); ok {
		return input
	}
	b, _ := protocol.Marshal(map[string]string{invalidArgumentsKey: s})
	return b
}

// argumentsText is the arguments string for Input: compact JSON; {} when
// Input is empty; the model's own text when Input is modelArguments'
// stand-in for arguments that were not an object (or a JSON string, which
// other producers may use for the same).
func argumentsText(input json.RawMessage) string {
	t := bytes.TrimSpace(input)
	if len(t) == 0 {
		return "{}"
	}
	if raw, ok := invalidArguments(t); ok {
		return raw
	}
	var buf bytes.Buffer
	if json.Compact(&buf, t) != nil {
		return string(t)
	}
	return buf.String()
}

// invalidArguments reports whether input stands for arguments that were
// not an object, and returns them.
func invalidArguments(input []byte) (string, bool) {
	var s string
	if input[0] == '"' {
		return s, json.Unmarshal(input, &s) == nil
	}
	if !bytes.Contains(input, []byte(invalidArgumentsKey)) {
		return "", false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(input, &m) != nil || len(m) != 1 || json.Unmarshal(m[invalidArgumentsKey], &s) != nil {
		return "", false
	}
	return s, true
}
