package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// DecodeObject decodes a JSON object, turning syntax errors into a
// RequestError that says where the JSON broke.
func DecodeObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return &RequestError{Param: "", Message: "request body is empty: send a JSON object"}
	}
	if trimmed[0] != '{' {
		return &RequestError{Param: "", Message: "request body must be a JSON object"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return &RequestError{Param: "", Message: fmt.Sprintf("request body is not valid JSON: %v (at byte %d)", syn, syn.Offset)}
		case errors.As(err, &typ):
			return &RequestError{Param: typ.Field, Message: fmt.Sprintf("has the wrong type: %v", typ)}
		}
		return &RequestError{Param: "", Message: "request body is not valid JSON: " + err.Error()}
	}
	return nil
}

// IsNull reports whether a field is absent or null.
func IsNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// StringField decodes a required, non-empty string field.
func StringField(name string, raw json.RawMessage, dst *string) error {
	if IsNull(raw) {
		return &RequestError{Param: name, Message: "is required"}
	}
	if json.Unmarshal(raw, dst) != nil {
		return &RequestError{Param: name, Message: "must be a string"}
	}
	if *dst == "" {
		return &RequestError{Param: name, Message: "must not be empty"}
	}
	return nil
}

// BoolField decodes an optional boolean field.
func BoolField(name string, raw json.RawMessage, dst *bool) error {
	if IsNull(raw) {
		return nil
	}
	if json.Unmarshal(raw, dst) != nil {
		return &RequestError{Param: name, Message: "must be true or false"}
	}
	return nil
}

// Marshal is json.Marshal without the HTML escaping of <, > and &, which
// neither API does: tool inputs and text reach clients and backends as
// written.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
