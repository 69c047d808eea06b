// Package grammar constrains a local model's output to JSON that follows a
// JSON Schema, during sampling: a schema (of the subset Compile documents)
// becomes a byte-level pushdown automaton, and a Constraint walks a byte
// trie of the tokenizer's vocabulary with it to mask, before each token is
// sampled, every token the automaton cannot consume. The end of the
// answer is allowed only when the document is complete, and the number
// of tokens left is taken into account so that an answer cut short by the
// token budget is still complete: each token must leave a completion that
// fits in what remains.
package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// SchemaError says which part of a schema is outside the supported subset.
type SchemaError struct {
	Path    string // JSON pointer of the schema object holding Keyword ("" for the root)
	Keyword string
	Reason  string
}

func (e *SchemaError) Error() string {
	at := e.Path
	if at == "" {
		at = "the root"
	}
	return fmt.Sprintf("JSON Schema keyword %q at %s is not supported by the local engine: %s", e.Keyword, at, e.Reason)
}

type kind uint8

const (
	kObject kind = iota
	kArray
	kString
	kNumber
	kInteger
	kLiteral // enum, const, true/false/null
	kUnion   // alternatives told apart by their first byte
)

// node is one compiled schema. Nodes are immutable after Compile and
// shared by every Constraint made from the Grammar.
type node struct {
	kind kind
	min  int // the fewest bytes of a value

	// object
	props    []prop
	keys     []keyRef // props' encoded keys (with the closing quote), sorted
	required uint64   // bit i: props[i] is required
	free     *node    // no properties: any key, values of this node (nil: no key at all)
	ordered  bool     // keys must come in props order (tool calls: name first)
	tagged   bool     // props[1]'s node depends on props[0]'s literal (a tool call)
	byTag    []*node  // tagged: the arguments schema of each tool, by literal index

	// array
	items              *node
	minItems, maxItems int // maxItems < 0: unbounded

	// string
	minLen, maxLen int // maxLen < 0: unbounded

	// literal: the JSON encodings of the values, sorted
	lits [][]byte

	// union
	alts []*node
}

type prop struct {
	name  string
	key   []byte // `"name"` as JSON encodes it
	value *node
}

type keyRef struct {
	rest []byte // the encoded key after its opening quote, closing quote included
	prop int
}

// maxProps bounds an object's properties (the seen set is a uint64).
const maxProps = 64

// Grammar is a compiled schema. Safe for concurrent use.
type Grammar struct {
	root   *node
	prefix []byte // bytes that must come before the root value (a forced tool call's opening tag)
	suffix []byte // bytes that must follow the root value (a tool call's closing tag)
	lead   bool   // newlines may come before the prefix (a forced call after </think>)
}

// anyNode is any JSON value (a union of the kinds; objects and arrays of
// any values); anyObject any JSON object.
var anyNode, anyObject = func() (*node, *node) {
	a := &node{kind: kUnion, min: 1}
	o := &node{kind: kObject, min: 2, free: a}
	arr := &node{kind: kArray, min: 2, items: a, maxItems: -1}
	lit, _ := literalsOf([][]byte{[]byte("true"), []byte("false"), []byte("null")})
	a.alts = []*node{o, arr, plainString, {kind: kNumber, min: 1}, lit}
	return a, o
}()

var plainString = &node{kind: kString, min: 2, maxLen: -1}

// AnyObject is the grammar of any JSON object (OpenAI's json_object).
func AnyObject() *Grammar { return &Grammar{root: anyObject} }

// Compile compiles a JSON Schema. The supported subset: type (a name or
// an array of names: object, array, string, number, integer, boolean,
// null), properties, required, additionalProperties (false, true or a
// schema; with properties only the declared ones are written), items,
// minItems, maxItems, minLength, maxLength, enum, const, anyOf and oneOf
// whose alternatives start differently (a different type, or literals),
// $ref to the root's $defs or definitions (not recursive), and annotations (title, description, default, examples, $schema, $id,
// $comment, strict). Anything else is a *SchemaError naming the keyword.
func Compile(schema json.RawMessage) (*Grammar, error) {
	if len(bytes.TrimSpace(schema)) == 0 {
		return AnyObject(), nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(schema))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, &SchemaError{Keyword: "", Reason: "the schema is not JSON: " + err.Error()}
	}
	c := &compiler{memo: map[string]*node{}, visiting: map[string]bool{}}
	if root, ok := v.(map[string]any); ok {
		for _, k := range []string{"$defs", "definitions"} {
			if d, ok := root[k].(map[string]any); ok {
				c.defs = append(c.defs, defs{k, d})
			}
		}
	}
	n, err := c.compile(v, "", 0)
	if err != nil {
		return nil, err
	}
	return &Grammar{root: n}, nil
}

// compiler compiles one schema: its root's definitions ($defs, or the
// older definitions), which $ref may name, each compiled once.
type compiler struct {
	defs     []defs
	memo     map[string]*node // by $ref
	visiting map[string]bool  // refs being compiled: a ref back to one is recursion
}

type defs struct {
	key string // "$defs" or "definitions"
	m   map[string]any
}

// ref compiles a $ref to a definition of the root: "#/$defs/Name" or
// "#/definitions/Name". Recursive schemas are not supported (the grammar
// has no cycles).
func (c *compiler) ref(s map[string]any, path string, depth int) (*node, error) {
	ref, _ := s["$ref"].(string)
	for k := range s {
		root := depth == 0 && (k == "$defs" || k == "definitions")
		if k != "$ref" && !annotations[k] && !root {
			return nil, &SchemaError{Path: path, Keyword: k, Reason: "only annotations may stand beside $ref"}
		}
	}
	if n, ok := c.memo[ref]; ok {
		return n, nil
	}
	for _, d := range c.defs {
		name, ok := strings.CutPrefix(ref, "#/"+d.key+"/")
		if !ok || strings.Contains(name, "/") {
			continue
		}
		name = strings.ReplaceAll(strings.ReplaceAll(name, "~1", "/"), "~0", "~")
		def, ok := d.m[name]
		if !ok {
			break
		}
		if c.visiting[ref] {
			return nil, &SchemaError{Path: path, Keyword: "$ref", Reason: fmt.Sprintf("%s refers to itself: recursive schemas are not supported", ref)}
		}
		c.visiting[ref] = true
		n, err := c.compile(def, "/"+d.key+"/"+pointerEscape(name), depth+1)
		delete(c.visiting, ref)
		if err != nil {
			return nil, err
		}
		c.memo[ref] = n
		return n, nil
	}
	return nil, &SchemaError{Path: path, Keyword: "$ref", Reason: fmt.Sprintf("%q is not a definition of the schema (#/$defs/Name or #/definitions/Name)", ref)}
}

// maxSchemaDepth bounds nesting in a schema.
const maxSchemaDepth = 32

var annotations = map[string]bool{"title": true, "description": true, "default": true, "examples": true,
	"$schema": true, "$id": true, "$comment": true, "strict": true, "deprecated": true, "readOnly": true, "writeOnly": true}

// maxDocument bounds the smallest document of a schema (minItems and
// minLength multiply): costs stay far from overflowing, and a schema
// whose every answer is megabytes long is a mistake.
const maxDocument = 1 << 20

func (c *compiler) compile(v any, path string, depth int) (*node, error) {
	n, err := c.compileAny(v, path, depth)
	if err == nil && n.min > maxDocument {
		return nil, &SchemaError{Path: path, Keyword: "minItems", Reason: fmt.Sprintf("its smallest document is over %d bytes", maxDocument)}
	}
	return n, err
}

func (c *compiler) compileAny(v any, path string, depth int) (*node, error) {
	if depth > maxSchemaDepth {
		return nil, &SchemaError{Path: path, Keyword: "properties", Reason: fmt.Sprintf("schemas nest deeper than %d levels", maxSchemaDepth)}
	}
	if b, ok := v.(bool); ok {
		if b {
			return anyNode, nil
		}
		return nil, &SchemaError{Path: path, Keyword: "false", Reason: "a schema that accepts nothing"}
	}
	s, ok := v.(map[string]any)
	if !ok {
		return nil, &SchemaError{Path: path, Keyword: "", Reason: "a schema must be an object or a boolean"}
	}
	if _, ok := s["$ref"]; ok {
		return c.ref(s, path, depth)
	}
	known := map[string]bool{"$defs": depth == 0, "definitions": depth == 0, "type": true, "properties": true, "required": true, "additionalProperties": true,
		"items": true, "minItems": true, "maxItems": true, "minLength": true, "maxLength": true,
		"enum": true, "const": true, "anyOf": true, "oneOf": true}
	for _, k := range slices.Sorted(mapKeys(s)) {
		if !known[k] && !annotations[k] {
			return nil, &SchemaError{Path: path, Keyword: k, Reason: "outside the supported subset (see README: Structured output)"}
		}
	}
	if cv, ok := s["const"]; ok {
		return c.enum(s, path, "const", []any{cv})
	}
	if e, ok := s["enum"]; ok {
		vals, ok := e.([]any)
		if !ok || len(vals) == 0 {
			return nil, &SchemaError{Path: path, Keyword: "enum", Reason: "must be a non-empty array"}
		}
		return c.enum(s, path, "enum", vals)
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if a, ok := s[k]; ok {
			return c.alternatives(a, s, path, k, depth)
		}
	}
	return c.typed(s, path, depth)
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (c *compiler) alternatives(a any, s map[string]any, path, kw string, depth int) (*node, error) {
	list, ok := a.([]any)
	if !ok || len(list) == 0 {
		return nil, &SchemaError{Path: path, Keyword: kw, Reason: "must be a non-empty array"}
	}
	for k := range s {
		if k != kw && !annotations[k] {
			return nil, &SchemaError{Path: path, Keyword: k, Reason: "only annotations may stand beside " + kw}
		}
	}
	var alts []*node
	for i, v := range list {
		n, err := c.compile(v, fmt.Sprintf("%s/%s/%d", path, kw, i), depth+1)
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
	}
	return union(path, kw, alts)
}

// typed compiles a schema by its type (none: any value, or an object when
// it has properties).
func (c *compiler) typed(s map[string]any, path string, depth int) (*node, error) {
	var types []string
	switch t := s["type"].(type) {
	case nil:
		// No type: the keywords' type (a value of another type would
		// satisfy them vacuously, but writing this one is always valid).
		for _, kt := range []struct{ kw, t string }{{"properties", "object"}, {"required", "object"}, {"additionalProperties", "object"},
			{"items", "array"}, {"minItems", "array"}, {"maxItems", "array"}, {"minLength", "string"}, {"maxLength", "string"}} {
			if _, ok := s[kt.kw]; ok {
				types = []string{kt.t}
				break
			}
		}
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			name, ok := x.(string)
			if !ok {
				return nil, &SchemaError{Path: path, Keyword: "type", Reason: "must name types"}
			}
			types = append(types, name)
		}
		if len(types) == 0 {
			return nil, &SchemaError{Path: path, Keyword: "type", Reason: "must name at least one type"}
		}
	default:
		return nil, &SchemaError{Path: path, Keyword: "type", Reason: "must be a string or an array of strings"}
	}
	if len(types) == 0 {
		return anyNode, nil
	}
	if slices.Contains(types, "number") {
		types = slices.DeleteFunc(types, func(t string) bool { return t == "integer" })
	}
	var alts []*node
	for _, t := range types {
		n, err := c.ofType(t, s, path, depth)
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return union(path, "type", alts)
}

func (c *compiler) ofType(t string, s map[string]any, path string, depth int) (*node, error) {
	switch t {
	case "object":
		return c.object(s, path, depth)
	case "array":
		return c.array(s, path, depth)
	case "string":
		n := &node{kind: kString, maxLen: -1}
		var err error
		if n.minLen, err = count(s, path, "minLength", 0); err != nil {
			return nil, err
		}
		if n.maxLen, err = count(s, path, "maxLength", -1); err != nil {
			return nil, err
		}
		if n.maxLen >= 0 && n.maxLen < n.minLen {
			return nil, &SchemaError{Path: path, Keyword: "maxLength", Reason: "below minLength"}
		}
		n.min = 2 + n.minLen
		return n, nil
	case "number":
		return &node{kind: kNumber, min: 1}, nil
	case "integer":
		return &node{kind: kInteger, min: 1}, nil
	case "boolean":
		return literals(path, "type", []any{false, true})
	case "null":
		return literals(path, "type", []any{nil})
	}
	return nil, &SchemaError{Path: path, Keyword: "type", Reason: fmt.Sprintf("unknown type %q", t)}
}

// count reads a non-negative integer keyword; def when absent.
func count(s map[string]any, path, kw string, def int) (int, error) {
	v, ok := s[kw]
	if !ok {
		return def, nil
	}
	num, ok := v.(json.Number)
	if !ok {
		return 0, &SchemaError{Path: path, Keyword: kw, Reason: "must be a number"}
	}
	n, err := strconv.Atoi(num.String())
	if err != nil || n < 0 || n > 1<<20 {
		return 0, &SchemaError{Path: path, Keyword: kw, Reason: "must be a non-negative integer"}
	}
	return n, nil
}

func (c *compiler) object(s map[string]any, path string, depth int) (*node, error) {
	n := &node{kind: kObject}
	props, err := c.properties(s, path, depth)
	if err != nil {
		return nil, err
	}
	n.props = props
	if err := n.requiredOf(s, path); err != nil {
		return nil, err
	}
	if len(props) == 0 {
		switch ap := s["additionalProperties"].(type) {
		case nil:
			n.free = anyNode
		case bool:
			if ap {
				n.free = anyNode
			}
		default:
			if n.free, err = c.compile(ap, path+"/additionalProperties", depth+1); err != nil {
				return nil, err
			}
		}
	} else if ap, ok := s["additionalProperties"]; ok {
		if _, isBool := ap.(bool); !isBool {
			if _, err := c.compile(ap, path+"/additionalProperties", depth+1); err != nil {
				return nil, err
			}
		}
	}
	n.index()
	return n, nil
}

// properties reads properties in the schema's order.
func (c *compiler) properties(s map[string]any, path string, depth int) ([]prop, error) {
	raw, ok := s["properties"]
	if !ok {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, &SchemaError{Path: path, Keyword: "properties", Reason: "must be an object"}
	}
	if len(m) > maxProps {
		return nil, &SchemaError{Path: path, Keyword: "properties", Reason: fmt.Sprintf("more than %d properties", maxProps)}
	}
	var props []prop
	for _, name := range slices.Sorted(mapKeys(m)) {
		v, err := c.compile(m[name], path+"/properties/"+pointerEscape(name), depth+1)
		if err != nil {
			return nil, err
		}
		key, _ := encode(name)
		props = append(props, prop{name: name, key: key, value: v})
	}
	return props, nil
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func (n *node) requiredOf(s map[string]any, path string) error {
	raw, ok := s["required"]
	if !ok {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		return &SchemaError{Path: path, Keyword: "required", Reason: "must be an array of names"}
	}
	for _, x := range list {
		name, _ := x.(string)
		i := slices.IndexFunc(n.props, func(p prop) bool { return p.name == name })
		if i < 0 {
			return &SchemaError{Path: path, Keyword: "required", Reason: fmt.Sprintf("%q is not among properties", name)}
		}
		n.required |= 1 << i
	}
	return nil
}

// index sorts the keys and works out the smallest object.
func (n *node) index() {
	n.keys = n.keys[:0]
	for i, p := range n.props {
		n.keys = append(n.keys, keyRef{rest: p.key[1:], prop: i})
	}
	slices.SortFunc(n.keys, func(a, b keyRef) int { return bytes.Compare(a.rest, b.rest) })
	n.min = 2 + n.reqCost(n.required, false)
}

// entry is the bytes of one member `"key":value` at its smallest.
func (n *node) entry(i int) int { return len(n.props[i].key) + 1 + n.props[i].value.min }

// reqCost is the fewest bytes that write the members in set, each after a
// comma when comma is set (else all but the first).
func (n *node) reqCost(set uint64, comma bool) int {
	c, k := 0, 0
	for s := set; s != 0; s &= s - 1 {
		c += n.entry(bits.TrailingZeros64(s))
		k++
	}
	if k > 0 {
		c += k - 1
		if comma {
			c++
		}
	}
	return c
}

func (c *compiler) array(s map[string]any, path string, depth int) (*node, error) {
	n := &node{kind: kArray, items: anyNode, maxItems: -1}
	if it, ok := s["items"]; ok {
		var err error
		if n.items, err = c.compile(it, path+"/items", depth+1); err != nil {
			return nil, err
		}
	}
	var err error
	if n.minItems, err = count(s, path, "minItems", 0); err != nil {
		return nil, err
	}
	if n.maxItems, err = count(s, path, "maxItems", -1); err != nil {
		return nil, err
	}
	if n.maxItems >= 0 && n.maxItems < n.minItems {
		return nil, &SchemaError{Path: path, Keyword: "maxItems", Reason: "below minItems"}
	}
	n.min = 2 + n.minItems*n.items.min + max(0, n.minItems-1)
	return n, nil
}
