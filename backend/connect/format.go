package connect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// obj is a JSON object that keeps its keys in the order written, so a
// rendered file reads the way its documentation shows it.
type obj []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the members in order, without HTML escaping (a URL
// with & stays readable).
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := protocol.Marshal(m.k)
		if err != nil {
			return nil, err
		}
		v, err := protocol.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// jsonText renders v indented by two spaces, ending in a newline.
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("connect: rendering JSON: %v", err)) // only strings, numbers, booleans and objs of them
	}
	return b.String()
}

// quoteJSON is a JSON (and TOML basic, and YAML double-quoted, and
// JavaScript) string literal for s.
func quoteJSON(s string) string {
	b, _ := protocol.Marshal(s) // a string always marshals
	return string(b)
}

// jsString is a single-quoted JavaScript string literal for s.
func jsString(s string) string {
	q := quoteJSON(s)
	inner := strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
	return "'" + strings.ReplaceAll(inner, "'", `\'`) + "'"
}

// plainYAML matches scalars YAML reads back as the same string without
// quotes: no leading indicator, no ": " or " #", not a number, boolean or
// null.
var plainYAML = regexp.MustCompile(`^[A-Za-z_./][A-Za-z0-9_./:@+-]*$`)

var yamlReserved = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "null": true, "y": true, "n": true}

// yamlScalar is s as a YAML scalar: plain when that reads back the same,
// double-quoted otherwise.
func yamlScalar(s string) string {
	if plainYAML.MatchString(s) && !yamlReserved[strings.ToLower(s)] && !strings.Contains(s, ": ") {
		return s
	}
	return quoteJSON(s)
}

// plainShell matches words a POSIX shell reads back unchanged.
var plainShell = regexp.MustCompile(`^[A-Za-z0-9_./:@%+,=-]+$`)

// shellWord is s as one shell word.
func shellWord(s string) string {
	if plainShell.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
