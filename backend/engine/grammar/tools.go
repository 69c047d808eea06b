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
