package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// SetTopLevelString returns body with the value of every top-level key
// replaced by the JSON string value, leaving every other byte as the client
// sent it: field order, spacing, number formatting and unknown fields
// survive, which a decode/encode round trip would not guarantee. body must be
// a JSON object; a missing key is added at the end.
func SetTopLevelString(body []byte, key, value string) ([]byte, error) {
	spans, open, end, err := topLevelValueSpans(body, key)
	if err != nil {
		return nil, err
	}
	encoded, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	if len(spans) == 0 {
		return appendMember(body, open, end, key, encoded), nil
	}
	out := make([]byte, 0, len(body)+len(encoded))
	prev := 0
	for _, s := range spans {
		out = append(out, body[prev:s[0]]...)
		out = append(out, encoded...)
		prev = s[1]
	}
	return append(out, body[prev:]...), nil
}

// topLevelValueSpans finds the byte spans of the values of key at depth one,
// and the offsets just after the object's opening brace and of its closing
// brace.
func topLevelValueSpans(body []byte, key string) (spans [][2]int, open, closing int, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, 0, 0, fmt.Errorf("request body must be a JSON object")
	}
	open = int(dec.InputOffset())
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, 0, 0, fmt.Errorf("invalid JSON: %w", err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, 0, 0, fmt.Errorf("invalid JSON: %w", err)
		}
		if name, _ := tok.(string); name == key {
			end := int(dec.InputOffset())
			spans = append(spans, [2]int{end - len(raw), end})
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, 0, 0, fmt.Errorf("invalid JSON: %w", err)
	}
	closing = int(dec.InputOffset()) - 1
	if rest := bytes.Trim(body[closing+1:], jsonSpace); len(rest) > 0 {
		return nil, 0, 0, fmt.Errorf("invalid JSON: data after the top-level object")
	}
	return spans, open, closing, nil
}

// jsonSpace is JSON's whitespace, narrower than bytes.TrimSpace's (no \f,
// \v or Unicode spaces).
const jsonSpace = " \t\r\n"

func appendMember(body []byte, open, closing int, key string, encoded []byte) []byte {
	k, _ := json.Marshal(key)
	out := make([]byte, 0, len(body)+len(k)+len(encoded)+2)
	out = append(out, body[:closing]...)
	if len(bytes.Trim(body[open:closing], jsonSpace)) > 0 {
		out = append(out, ',')
	}
	out = append(out, k...)
	out = append(out, ':')
	out = append(out, encoded...)
	return append(out, body[closing:]...)
}
