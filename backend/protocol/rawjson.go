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
	encoded, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	return SetTopLevelRaw(body, key, encoded)
}

// SetTopLevelRaw is SetTopLevelString with any JSON value, given encoded
// (which must be valid JSON).
func SetTopLevelRaw(body []byte, key string, encoded json.RawMessage) ([]byte, error) {
	spans, open, end, err := topLevelValueSpans(body, key)
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
// brace. One validation pass and one scan of the top level, without
// decoding or copying any value: the messages of a long conversation are
// skipped over, not read.
func topLevelValueSpans(body []byte, key string) (spans [][2]int, open, closing int, err error) {
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v) // for the message
		return nil, 0, 0, fmt.Errorf("invalid JSON: %w", err)
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return nil, 0, 0, fmt.Errorf("request body must be a JSON object")
	}
	open = i + 1
	i = skipSpace(body, open)
	for body[i] != '}' {
		keyEnd := skipString(body, i)
		name := body[i+1 : keyEnd-1]
		i = skipSpace(body, skipSpace(body, keyEnd)+1) // past the colon
		valueEnd := skipValue(body, i)
		if keyIs(name, key) {
			spans = append(spans, [2]int{i, valueEnd})
		}
		i = skipSpace(body, valueEnd)
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return spans, open, i, nil
}

// The skip functions walk JSON already checked by json.Valid.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the offset just past the string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// skipValue returns the offset just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) { // a number, true, false or null
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}

// keyIs compares a raw object key (its escapes intact) with key.
func keyIs(raw []byte, key string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == key
	}
	var name string
	return json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &name) == nil && name == key
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
