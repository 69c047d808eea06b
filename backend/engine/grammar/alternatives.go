package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Literals (enum, const, booleans, null) and alternatives (type lists,
// anyOf, oneOf), which the first byte of a value tells apart.

// enum compiles enum or const: its values of the schema's type, if it
// names one. Other keywords beside them are refused (a value would have
// to satisfy them too).
func (c *compiler) enum(s map[string]any, path, kw string, vals []any) (*node, error) {
	for _, k := range slices.Sorted(mapKeys(s)) {
		if k != kw && k != "type" && k != "enum" && k != "const" && !annotations[k] {
			return nil, &SchemaError{Path: path, Keyword: k, Reason: "only type and annotations may stand beside " + kw}
		}
	}
	if kw == "const" {
		if _, ok := s["enum"]; ok {
			return nil, &SchemaError{Path: path, Keyword: "enum", Reason: "enum and const together"}
		}
	}
	var types []string
	switch t := s["type"].(type) {
	case nil:
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			name, _ := x.(string)
			types = append(types, name)
		}
	default:
		return nil, &SchemaError{Path: path, Keyword: "type", Reason: "must be a string or an array of strings"}
	}
	if types != nil {
		var kept []any
		for _, v := range vals {
			if slices.ContainsFunc(types, func(t string) bool { return hasType(t, v) }) {
				kept = append(kept, v)
			}
		}
		if len(kept) == 0 {
			return nil, &SchemaError{Path: path, Keyword: kw, Reason: "no value is of the schema's type"}
		}
		vals = kept
	}
	return literals(path, kw, vals)
}

// hasType reports whether v (decoded with UseNumber) is of JSON Schema
// type t; an integer is a number without fraction or exponent, as the
// grammar writes integers.
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
		return t == "number" || t == "integer" && !strings.ContainsAny(v.String(), ".eE")
	}
	return false
}

// literals compiles enum or const: the canonical JSON of each value.
func literals(path, kw string, vals []any) (*node, error) {
	n := &node{kind: kLiteral}
	for _, v := range vals {
		if num := tooLarge(v); num != "" {
			return nil, &SchemaError{Path: path, Keyword: kw, Reason: "the number " + num + " does not fit a float64 (JSON parsers refuse it)"}
		}
		b, err := encode(v)
		if err != nil {
			return nil, &SchemaError{Path: path, Keyword: kw, Reason: err.Error()}
		}
		n.lits = append(n.lits, b)
	}
	slices.SortFunc(n.lits, bytes.Compare)
	n.lits = slices.CompactFunc(n.lits, bytes.Equal)
	n.min = len(n.lits[0])
	for _, l := range n.lits {
		n.min = min(n.min, len(l))
	}
	return n, nil
}

// tooLarge is the first number in v that float64 cannot hold
// (strconv.ParseFloat reports it out of range, as encoding/json refuses
// it), or "".
func tooLarge(v any) string {
	switch v := v.(type) {
	case json.Number:
		if _, err := strconv.ParseFloat(v.String(), 64); err != nil {
			return v.String()
		}
	case []any:
		for _, e := range v {
			if n := tooLarge(e); n != "" {
				return n
			}
		}
	case map[string]any:
		for _, e := range v {
			if n := tooLarge(e); n != "" {
				return n
			}
		}
	}
	return ""
}

// encode is v's JSON without HTML escaping (what a model writes).
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// firsts is the set of bytes a value of n can start with.
func firsts(n *node) (set [4]uint64) {
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			set[s[i]/64] |= 1 << (s[i] % 64)
		}
	}
	switch n.kind {
	case kObject:
		add("{")
	case kArray:
		add("[")
	case kString:
		add(`"`)
	case kNumber, kInteger:
		add("-0123456789")
	case kLiteral:
		for _, l := range n.lits {
			add(string(l[:1]))
		}
	case kUnion:
		for _, a := range n.alts {
			f := firsts(a)
			for i := range set {
				set[i] |= f[i]
			}
		}
	}
	return set
}

// union joins alternatives, which must start with different bytes (so the
// first byte picks one); literals are merged into one. Under oneOf a value
// must match exactly one alternative: a literal two of them hold (an
// enum value and a const, true and a boolean) is refused.
func union(path, kw string, alts []*node) (*node, error) {
	if kw == "oneOf" {
		if err := disjointLiterals(path, alts); err != nil {
			return nil, err
		}
	}
	var lit *node
	var rest []*node
	for _, a := range alts {
		switch {
		case a.kind == kLiteral && lit == nil:
			lit = &node{kind: kLiteral, lits: slices.Clone(a.lits)}
		case a.kind == kLiteral:
			lit.lits = append(lit.lits, a.lits...)
		case a.kind == kUnion:
			rest = append(rest, a.alts...)
		default:
			rest = append(rest, a)
		}
	}
	if lit != nil {
		l, _ := literalsOf(lit.lits)
		rest = append(rest, l)
	}
	if len(rest) == 1 {
		return rest[0], nil
	}
	var seen [4]uint64
	n := &node{kind: kUnion, alts: rest, min: rest[0].min}
	for _, a := range rest {
		f := firsts(a)
		for i := range f {
			if seen[i]&f[i] != 0 {
				return nil, &SchemaError{Path: path, Keyword: kw, Reason: "alternatives must differ in type (or be literals): two of them can start alike"}
			}
			seen[i] |= f[i]
		}
		n.min = min(n.min, a.min)
	}
	return n, nil
}

// disjointLiterals refuses oneOf alternatives that hold the same literal
// value. (Other alternatives cannot overlap: union refuses those that
// start alike.)
func disjointLiterals(path string, alts []*node) error {
	owner := map[string]int{}
	for i, a := range alts {
		if a.kind != kLiteral {
			continue
		}
		for _, l := range a.lits {
			if j, ok := owner[string(l)]; ok && j != i {
				return &SchemaError{Path: path, Keyword: "oneOf", Reason: fmt.Sprintf("alternatives %d and %d both match %s: a value must match exactly one", j, i, l)}
			}
			owner[string(l)] = i
		}
	}
	return nil
}

func literalsOf(lits [][]byte) (*node, error) {
	n := &node{kind: kLiteral, lits: lits}
	slices.SortFunc(n.lits, bytes.Compare)
	n.lits = slices.CompactFunc(n.lits, bytes.Equal)
	n.min = len(n.lits[0])
	for _, l := range n.lits {
		n.min = min(n.min, len(l))
	}
	return n, nil
}
