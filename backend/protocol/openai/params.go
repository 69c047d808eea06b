package openai

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/protocol"
)

// Helpers that decode one optional request field from its raw JSON, with an
// error that names the field as OpenAI does. Absent and null are "not
// given" throughout, as in OpenAI's API.

func fieldError(param, format string, args ...any) error {
	return &protocol.RequestError{Param: param, Message: fmt.Sprintf(format, args...)}
}

// optString decodes an optional string.
func optString(param string, raw json.RawMessage) (string, error) {
	var s string
	if protocol.IsNull(raw) {
		return "", nil
	}
	if json.Unmarshal(raw, &s) != nil {
		return "", fieldError(param, "must be a string")
	}
	return s, nil
}

// reqString decodes a required, non-empty string.
func reqString(param string, raw json.RawMessage) (string, error) {
	var s string
	if err := protocol.StringField(param, raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// optBool decodes an optional boolean.
func optBool(param string, raw json.RawMessage) (*bool, error) {
	if protocol.IsNull(raw) {
		return nil, nil
	}
	var b bool
	if err := protocol.BoolField(param, raw, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// optFloat decodes an optional number in [lo, hi].
func optFloat(param string, raw json.RawMessage, lo, hi float64) (*float64, error) {
	if protocol.IsNull(raw) {
		return nil, nil
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return nil, fieldError(param, "must be a number")
	}
	if f < lo || f > hi {
		return nil, fieldError(param, "must be between %g and %g, got %g", lo, hi, f)
	}
	return &f, nil
}

// optInt decodes an optional integer in [lo, hi].
func optInt(param string, raw json.RawMessage, lo, hi int) (*int, error) {
	if protocol.IsNull(raw) {
		return nil, nil
	}
	var n int64
	if json.Unmarshal(raw, &n) != nil {
		return nil, fieldError(param, "must be an integer")
	}
	if n < int64(lo) || n > int64(hi) {
		if hi == math.MaxInt {
			return nil, fieldError(param, "must be at least %d, got %d", lo, n)
		}
		return nil, fieldError(param, "must be between %d and %d, got %d", lo, hi, n)
	}
	v := int(n)
	return &v, nil
}

// optObject checks that an optional field is a JSON object and returns it.
func optObject(param string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	if protocol.IsNull(raw) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, fieldError(param, "must be an object")
	}
	return m, nil
}

// optArray decodes an optional array into its raw elements.
func optArray(param string, raw json.RawMessage) ([]json.RawMessage, error) {
	if protocol.IsNull(raw) {
		return nil, nil
	}
	var a []json.RawMessage
	if json.Unmarshal(raw, &a) != nil {
		return nil, fieldError(param, "must be an array")
	}
	return a, nil
}

// object decodes a required JSON object into v (a struct of raw fields).
func object(param string, raw json.RawMessage, v any) error {
	if protocol.IsNull(raw) {
		return fieldError(param, "is required")
	}
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, v) != nil {
		return fieldError(param, "must be an object")
	}
	return nil
}
