package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Tool calls: the call object of a model family, whose arguments follow
// the schema of the tool it names.

// Tool is one tool a model may call: its name and the JSON Schema of its
// arguments (empty: any object).
type Tool struct {
	Name   string
	Schema json.RawMessage
}

// ToolCall compiles one Hermes-style tool call: prefix (the opening tag,
// when the call is forced; "" when the tag has been written already),
// {"name": <one of tools>, "arguments": <that tool's schema>}, then
// suffix (the closing tag). An error names the tool's index in Path
// ("/tools/2/...").
func ToolCall(tools []Tool, prefix, suffix string) (*Grammar, error) {
	return Call(tools, prefix, suffix, "arguments")
}

// Call is ToolCall with the arguments under argsKey (Llama 3 writes
// "parameters").
func Call(tools []Tool, prefix, suffix, argsKey string) (*Grammar, error) {
	n := &node{kind: kObject, ordered: true, tagged: true, required: 3}
	var names []any
	for _, t := range tools {
		names = append(names, t.Name)
	}
	nameNode, err := literals("", "name", names)
	if err != nil {
		return nil, err
	}
	n.byTag = make([]*node, len(nameNode.lits))
	argsMin := 0
	for i, t := range tools {
		g, err := Compile(t.Schema)
		if err != nil {
			var se *SchemaError
			if errors.As(err, &se) {
				se.Path = fmt.Sprintf("/tools/%d%s", i, se.Path)
			}
			return nil, err
		}
		if g.root == anyNode {
			g.root = anyObject
		}
		if g.root.kind != kObject {
			return nil, &SchemaError{Path: fmt.Sprintf("/tools/%d", i), Keyword: "type", Reason: "tool arguments must be an object"}
		}
		lit, _ := encode(t.Name)
		at, _ := slices.BinarySearchFunc(nameNode.lits, lit, bytes.Compare)
		n.byTag[at] = g.root
		// The largest: before the name is written, the cost of finishing
		// must not be under-estimated (see Matcher.Dist).
		argsMin = max(argsMin, g.root.min)
	}
	nameKey, _ := encode("name")
	argsEnc, _ := encode(argsKey)
	n.props = []prop{{name: "name", key: nameKey, value: nameNode}, {name: argsKey, key: argsEnc, value: &node{kind: kObject, min: argsMin}}}
	n.index()
	return &Grammar{root: n, prefix: []byte(prefix), suffix: []byte(suffix)}, nil
}

// Calls compiles a JSON array of one or more calls, each
// {"name": <one of tools>, argsKey: <that tool's schema>}: Mistral's
// [TOOL_CALLS] and Phi-4-mini's <|tool_call|> bodies.
func Calls(tools []Tool, argsKey string) (*Grammar, error) {
	one, err := Call(tools, "", "", argsKey)
	if err != nil {
		return nil, err
	}
	n := &node{kind: kArray, items: one.root, minItems: 1, maxItems: -1}
	n.min = 2 + one.root.min
	return &Grammar{root: n}, nil
}

// Arguments compiles one tool's arguments alone (harmony's call body,
// whose tool is named in its header): its schema, any object when it has
// none; an error when that schema is not an object's.
func Arguments(t Tool) (*Grammar, error) {
	g, err := Compile(t.Schema)
	if err != nil {
		return nil, err
	}
	if g.root == anyNode {
		g.root = anyObject
	}
	if g.root.kind != kObject {
		return nil, &SchemaError{Keyword: "type", Reason: "tool arguments must be an object"}
	}
	return g, nil
}

// AfterNewlines is g with newlines allowed before its prefix: a call
// forced after a reasoning block, which models close with "</think>\n\n".
// Only newlines: the parsers drop those after </think>, and other
// whitespace would come out as a text block before the call.
func (g *Grammar) AfterNewlines() *Grammar {
	c := *g
	c.lead = true
	return &c
}
