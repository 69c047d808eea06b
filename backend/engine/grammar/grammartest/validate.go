// Package grammartest checks JSON documents against the JSON Schema subset
// the grammar package supports: the tests' oracle, written from the JSON
// Schema specification independently of the compiler.
package grammartest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Validate parses doc (one JSON value, nothing after it) and checks it
// against schema (empty: any object).
func Validate(schema, doc []byte) error {
	var s any = map[string]any{"type": "object"}
	if len(bytes.TrimSpace(schema)) > 0 {
		d := json.NewDecoder(bytes.NewReader(schema))
		d.UseNumber()
		if err := d.Decode(&s); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
	}
	v, err := Decode(doc)
	if err != nil {
		return err
	}
	return Check(s, v, "")
}

// Check checks v (decoded with UseNumber) against schema, whose
// "#/$defs/..." and "#/definitions/..." references it resolves.
func Check(schema any, v any, path string) error { return checker{schema}.check(schema, v, path) }

type checker struct{ root any }

func (c checker) check(schema any, v any, path string) error {
	if s, ok := schema.(map[string]any); ok {
		if ref, ok := s["$ref"].(string); ok {
			parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
			def := c.root.(map[string]any)[parts[0]].(map[string]any)[parts[1]]
			return c.check(def, v, path)
		}
	}
	if b, ok := schema.(bool); ok {
		if !b {
			return fmt.Errorf("%s: false schema", path)
		}
		return nil
	}
	s := schema.(map[string]any)
	if c, ok := s["const"]; ok {
		if !jsonEqual(c, v) {
			return fmt.Errorf("%s: %v is not const %v", path, v, c)
		}
	}
	if e, ok := s["enum"]; ok {
		found := false
		for _, x := range e.([]any) {
			found = found || jsonEqual(x, v)
		}
		if !found {
			return fmt.Errorf("%s: %v not in enum", path, v)
		}
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		alts, ok := s[k].([]any)
		if !ok {
			continue
		}
		n := 0
		for _, a := range alts {
			if c.check(a, v, path) == nil {
				n++
			}
		}
		if n == 0 || (k == "oneOf" && n != 1) {
			return fmt.Errorf("%s: %d alternatives of %s match", path, n, k)
		}
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		match := false
		for _, ty := range types {
			match = match || hasType(ty, v)
		}
		if !match {
			return fmt.Errorf("%s: %#v is not of type %v", path, v, types)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asList(s["required"]) {
			if _, ok := v[r.(string)]; !ok {
				return fmt.Errorf("%s: required %q missing", path, r)
			}
		}
		for k, x := range v {
			if ps, ok := props[k]; ok {
				if err := c.check(ps, x, path+"/"+k); err != nil {
					return err
				}
				continue
			}
			if ap, ok := s["additionalProperties"]; ok {
				if err := c.check(ap, x, path+"/"+k); err != nil {
					return fmt.Errorf("additional property %q: %w", k, err)
				}
			}
		}
	case []any:
		if n, ok := num(s["minItems"]); ok && len(v) < n {
			return fmt.Errorf("%s: %d items < minItems %d", path, len(v), n)
		}
		if n, ok := num(s["maxItems"]); ok && len(v) > n {
			return fmt.Errorf("%s: %d items > maxItems %d", path, len(v), n)
		}
		if it, ok := s["items"]; ok {
			for i, x := range v {
				if err := c.check(it, x, fmt.Sprintf("%s/%d", path, i)); err != nil {
					return err
				}
			}
		}
	case string:
		l := utf8.RuneCountInString(v)
		if n, ok := num(s["minLength"]); ok && l < n {
			return fmt.Errorf("%s: length %d < minLength %d", path, l, n)
		}
		if n, ok := num(s["maxLength"]); ok && l > n {
			return fmt.Errorf("%s: length %d > maxLength %d", path, l, n)
		}
	}
	return nil
}

func asList(x any) []any { l, _ := x.([]any); return l }

func num(x any) (int, bool) {
	n, ok := x.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}

func hasType(t string, v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return t == "object"
	case []any:
		return t == "array"
	case string:
		return t == "string"
	case bool:
		return t == "boolean"
	case nil:
		return t == "null"
	case json.Number:
		if t == "number" {
			return true
		}
		if t == "integer" {
			f, err := v.Float64()
			return err == nil && f == float64(int64(f)) && !strings.ContainsAny(v.String(), ".eE")
		}
	}
	return false
}

func jsonEqual(a, b any) bool {
	na, nb := normal(a), normal(b)
	return reflect.DeepEqual(na, nb)
}

// normal re-decodes a value so numbers compare by value.
func normal(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}

// Decode parses a document as the validator wants it.
func Decode(doc []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}
