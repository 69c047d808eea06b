package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/modelbar/modelbar/backend/protocol"
)

// object is a JSON object whose members are decoded one at a time, so each
// can be checked and reported under its own path. Keys are matched exactly,
// as the API matches them (encoding/json's struct decoding would also accept
// "Model" for "model").
type object map[string]json.RawMessage

// get returns a member that is present and not null.
func (o object) get(key string) (json.RawMessage, bool) {
	raw, ok := o[key]
	if !ok || protocol.IsNull(raw) {
		return nil, false
	}
	return raw, true
}

// reqErr is a request the API refuses, Param naming the field.
func reqErr(param, format string, args ...any) error {
	return &protocol.RequestError{Param: param, Message: fmt.Sprintf(format, args...)}
}

// unsupported is reqErr for what the API allows but translation cannot
// carry (see protocol.RequestError.Unsupported).
func unsupported(param, format string, args ...any) error {
	return &protocol.RequestError{Param: param, Message: fmt.Sprintf(format, args...), Unsupported: true}
}

// at extends a field path in the API's style: "messages", "messages.1",
// "messages.1.content".
func at(path string, key any) string {
	if path == "" {
		return fmt.Sprint(key)
	}
	return fmt.Sprintf("%s.%v", path, key)
}

// startsWith reports whether a JSON value begins with the byte c: '{' for
// an object, '[' for an array, '"' for a string.
func startsWith(raw json.RawMessage, c byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == c
}

func asObject(path string, raw json.RawMessage) (object, error) {
	var o object
	if !startsWith(raw, '{') || json.Unmarshal(raw, &o) != nil {
		return nil, reqErr(path, "must be an object")
	}
	return o, nil
}

func asArray(path string, raw json.RawMessage) ([]json.RawMessage, error) {
	var a []json.RawMessage
	if !startsWith(raw, '[') || json.Unmarshal(raw, &a) != nil {
		return nil, reqErr(path, "must be an array")
	}
	return a, nil
}

func asString(path string, raw json.RawMessage) (string, error) {
	var s string
	if !startsWith(raw, '"') || json.Unmarshal(raw, &s) != nil {
		return "", reqErr(path, "must be a string")
	}
	return s, nil
}

func asInt(path string, raw json.RawMessage) (int, error) {
	var n int
	if json.Unmarshal(raw, &n) != nil {
		return 0, reqErr(path, "must be an integer")
	}
	return n, nil
}

func asFloat(path string, raw json.RawMessage) (float64, error) {
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return 0, reqErr(path, "must be a number")
	}
	return f, nil
}

func asBool(path string, raw json.RawMessage) (bool, error) {
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		return false, reqErr(path, "must be true or false")
	}
	return b, nil
}

// requiredString decodes member key of o, which must be a string; nonEmpty
// also refuses "".
func requiredString(o object, path, key string, nonEmpty bool) (string, error) {
	p := at(path, key)
	raw, ok := o.get(key)
	if !ok {
		return "", reqErr(p, "is required")
	}
	s, err := asString(p, raw)
	if err == nil && nonEmpty && s == "" {
		err = reqErr(p, "must not be empty")
	}
	return s, err
}

// optionalString decodes member key of o if it is present and not null.
func optionalString(o object, path, key string) (string, error) {
	raw, ok := o.get(key)
	if !ok {
		return "", nil
	}
	return asString(at(path, key), raw)
}

// compactObject returns raw, which must be a JSON object, without
// insignificant whitespace.
func compactObject(path string, raw json.RawMessage) (json.RawMessage, error) {
	var buf bytes.Buffer
	if !startsWith(raw, '{') || json.Compact(&buf, raw) != nil {
		return nil, reqErr(path, "must be an object")
	}
	return buf.Bytes(), nil
}
