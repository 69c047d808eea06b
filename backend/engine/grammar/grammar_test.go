package grammar

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/grammar/grammartest"
)

// schemas are the schemas of the property tests, each with documents it
// must accept and reject as complete.
var schemas = []struct {
	name   string
	schema string
	accept []string
	reject []string
}{
	{"any object", ``,
		[]string{`{}`, `{"a":1}`, `{ "a" : [1, "x", null, true, {"b": -0.5e+3}] }`, `{"b":{ }}`, `{"":{}}`},
		[]string{`[]`, `1`, `{"a"}`, `{"a":1,}`, ` {}`, `{'a':1}`, `{"a":01}`, "{\"a\":\"\x01\"}"}},
	{"person", `{"type":"object","properties":{"name":{"type":"string","minLength":1},"age":{"type":"integer"},
		"email":{"type":["string","null"]},"tags":{"type":"array","items":{"type":"string"},"maxItems":3}},
		"required":["name","age"],"additionalProperties":false}`,
		[]string{`{"name":"Ann","age":30}`, `{"age":-4,"name":"é","email":null,"tags":["a","b"]}`, `{"name":"\u00e9\n","age":0,"email":"x"}`},
		[]string{`{"name":"","age":1}`, `{"name":"A"}`, `{"name":"A","age":1.5}`, `{"name":"A","age":1,"x":1}`,
			`{"name":"A","age":1,"tags":["a","b","c","d"]}`, `{"name":"A","name":"B","age":1}`, `{"name":"A","age":1e3}`}},
	{"enum and const", `{"type":"object","properties":{"kind":{"enum":["cat","dog",3,null]},"v":{"const":{"x":[1,2]}}},"required":["kind","v"]}`,
		[]string{`{"kind":"cat","v":{"x":[1,2]}}`, `{"v":{"x":[1,2]},"kind":3}`, `{"kind":null,"v":{"x":[1,2]}}`},
		[]string{`{"kind":"cow","v":{"x":[1,2]}}`, `{"kind":"cat","v":{"x":[1,2,3]}}`, `{"kind":"cat","v":{"x": [1,2]}}`, `{"kind":"ca"}`}},
	{"array root", `{"type":"array","items":{"anyOf":[{"type":"number"},{"type":"boolean"},{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}]},"minItems":2,"maxItems":4}`,
		[]string{`[1,true]`, `[{"id":1},2.5,false,-1e-5]`},
		[]string{`[1]`, `[1,2,3,4,5]`, `[{"id":1.5},1]`, `["a",1]`}},
	{"nested free", `{"type":"object","properties":{"meta":{"type":"object","additionalProperties":{"type":"integer"}},"list":{"type":"array","items":{"type":"array","items":{"type":"boolean"}}}},"required":["meta","list"]}`,
		[]string{`{"meta":{},"list":[]}`, `{"meta":{"a":1,"b":2},"list":[[true],[],[false,true]]}`},
		[]string{`{"meta":{"a":"x"},"list":[]}`, `{"meta":{},"list":[[1]]}`}},
	{"pydantic defs", `{"$defs":{"Item":{"type":"object","properties":{"id":{"type":"integer"},"label":{"anyOf":[{"type":"string"},{"type":"null"}]}},"required":["id","label"],"additionalProperties":false}},
		"type":"object","properties":{"items":{"type":"array","items":{"$ref":"#/$defs/Item"}},"main":{"$ref":"#/$defs/Item"}},"required":["items","main"],"additionalProperties":false}`,
		[]string{`{"items":[],"main":{"id":1,"label":null}}`, `{"main":{"label":"x","id":2},"items":[{"id":3,"label":"y"}]}`},
		[]string{`{"items":[{"id":3}],"main":{"id":1,"label":null}}`, `{"items":[],"main":{"id":"1","label":null}}`}},
	{"string lengths", `{"type":"object","properties":{"code":{"type":"string","minLength":2,"maxLength":3}},"required":["code"]}`,
		[]string{`{"code":"ab"}`, `{"code":"a\"c"}`, `{"code":"日本語"}`},
		[]string{`{"code":"a"}`, `{"code":"abcd"}`, `{"code":"\ud83d\ude00x"}`}},
}

func compileT(t testing.TB, schema string) (*Grammar, any) {
	t.Helper()
	g, err := Compile(json.RawMessage(schema))
	if err != nil {
		t.Fatalf("compile %s: %v", schema, err)
	}
	var s any = map[string]any{"type": "object"}
	if schema != "" {
		d := json.NewDecoder(strings.NewReader(schema))
		d.UseNumber()
		if err := d.Decode(&s); err != nil {
			t.Fatal(err)
		}
	}
	return g, s
}

func matches(g *Grammar, doc string) bool {
	m := g.NewMatcher()
	return m.Feed([]byte(doc)) && m.Complete()
}

func TestMatcher_AcceptReject(t *testing.T) {
	for _, tc := range schemas {
		t.Run(tc.name, func(t *testing.T) {
			g, s := compileT(t, tc.schema)
			for _, doc := range tc.accept {
				if !matches(g, doc) {
					t.Errorf("rejects %s", doc)
				}
				v, err := grammartest.Decode([]byte(doc))
				if err != nil || grammartest.Check(s, v, "") != nil {
					t.Errorf("test data: %s is not valid (%v, %v)", doc, err, grammartest.Check(s, v, ""))
				}
			}
			for _, doc := range tc.reject {
				if matches(g, doc) {
					t.Errorf("accepts %s", doc)
				}
			}
		})
	}
}

// A document is not complete before its end, and nothing follows an
// object at the root.
func TestMatcher_CompleteAndDone(t *testing.T) {
	g, _ := compileT(t, `{"type":"object","properties":{"a":{"type":"number"}},"required":["a"]}`)
	m := g.NewMatcher()
	for _, b := range []byte(`{"a":12`) {
		if m.Complete() || m.Done() {
			t.Fatalf("complete before %q", b)
		}
		if !m.Feed([]byte{b}) {
			t.Fatalf("rejects %q", b)
		}
	}
	if m.Feed([]byte("}")); !m.Complete() || !m.Done() || m.Dist() != 0 {
		t.Fatalf("complete %v done %v dist %d after the last brace", m.Complete(), m.Done(), m.Dist())
	}
	if m.Feed([]byte(" ")) {
		t.Error("accepts whitespace after the document")
	}
	num, _ := compileT(t, `{"type":"integer"}`)
	m = num.NewMatcher()
	m.Feed([]byte("42"))
	if !m.Complete() || m.Done() {
		t.Errorf("a root integer: complete %v (want true), done %v (want false: more digits may come)", m.Complete(), m.Done())
	}
}

func TestCompile_Unsupported(t *testing.T) {
	cases := []struct{ schema, keyword, path string }{
		{`{"type":"string","pattern":"^a"}`, "pattern", ""},
		{`{"type":"object","properties":{"d":{"type":"string","format":"date"}}}`, "format", "/properties/d"},
		{`{"type":"object","properties":{"n":{"type":"integer","minimum":0}}}`, "minimum", "/properties/n"},
		{`{"$ref":"#/$defs/x","$defs":{"x":{"type":"object","properties":{"next":{"$ref":"#/$defs/x"}}}}}`, "$ref", "/$defs/x/properties/next"},
		{`{"type":"object","properties":{"a":{"$ref":"#/$defs/missing"}}}`, "$ref", "/properties/a"},
		{`{"type":"object","properties":{"a":{"type":"object","$defs":{}}}}`, "$defs", "/properties/a"},
		{`{"anyOf":[{"type":"string"},{"enum":["a"]}]}`, "anyOf", ""},
		{`{"type":"object","properties":{"a":{"type":"array","items":{"not":{}}}}}`, "not", "/properties/a/items"},
		{`{"type":"thing"}`, "type", ""},
		{`{"oneOf":[{"const":"a"},{"enum":["a","b"]}]}`, "oneOf", ""},
		{`{"enum":[1,1e400]}`, "enum", ""},
		{`{"type":"object","properties":{"a":{"const":{"x":[-1e999]}}}}`, "const", "/properties/a"},
		{`{"oneOf":[{"type":"boolean"},{"const":true}]}`, "oneOf", ""},
		{`{"type":"object","properties":{"x":{"oneOf":[{"type":"null"},{"enum":[null,1]}]}}}`, "oneOf", "/properties/x"},
	}
	for _, c := range cases {
		_, err := Compile(json.RawMessage(c.schema))
		var se *SchemaError
		if !errors.As(err, &se) || se.Keyword != c.keyword || se.Path != c.path {
			t.Errorf("%s: error %v, want keyword %q at %q", c.schema, err, c.keyword, c.path)
		}
	}
}

// byteVocab is a vocabulary of the 256 bytes and some longer tokens, as a
// byte-level BPE has.
func byteVocab() *Vocab {
	extra := []string{`{"`, `":`, `",`, `"}`, `name`, `age`, `true`, `null`, `12`, ` `, "\n  ", `"},{"`, `],`, `}}`, `\u00`, "日本", "\xe6\x97", "\xa5", `"cat"`, `[{"`}
	return NewVocab(256+len(extra), func(id int) []byte {
		if id < 256 {
			return []byte{byte(id)}
		}
		return []byte(extra[id-256])
	})
}

// sample writes a document by masking random logits at each step, as a
// model with random weights would, within a budget of tokens. ok is false
// when the budget ended first.
func sample(t testing.TB, g *Grammar, v *Vocab, rng *rand.Rand, budget int) ([]byte, bool) {
	const stop = -1
	c := NewConstraint(g, v, nil)
	logits := make([]float32, v.Size())
	var doc []byte
	for n := 0; n < budget; n++ {
		if c.Done() {
			return doc, true
		}
		for i := range logits {
			logits[i] = float32(rng.NormFloat64() * 3)
		}
		c.Mask(logits, budget-n-1)
		best, id := float32(math.Inf(-1)), stop
		for i, l := range logits {
			if l > best {
				best, id = l, i
			}
		}
		if id == stop {
			return doc, c.Complete()
		}
		if err := c.Accept(id); err != nil {
			t.Fatal(err)
		}
		doc = append(doc, v.bytes[id]...)
	}
	return doc, c.Complete()
}

// Every document sampled under the mask, from random logits and with a
// tight budget, is complete, parses and validates.
func TestConstraint_SampledDocumentsValidate(t *testing.T) {
	v := byteVocab()
	for _, tc := range schemas {
		t.Run(tc.name, func(t *testing.T) {
			g, s := compileT(t, tc.schema)
			for seed := range 200 {
				rng := rand.New(rand.NewPCG(uint64(seed), 7))
				budget := 40 + seed%80
				doc, ok := sample(t, g, v, rng, budget)
				if !ok {
					t.Fatalf("seed %d: not complete within %d tokens: %q", seed, budget, doc)
				}
				val, err := grammartest.Decode(doc)
				if err != nil {
					t.Fatalf("seed %d: %q does not parse: %v", seed, doc, err)
				}
				if err := grammartest.Check(s, val, ""); err != nil {
					t.Fatalf("seed %d: %q: %v", seed, doc, err)
				}
			}
		})
	}
}

// FuzzMatcher: whatever bytes the matcher takes as a complete document
// parse with encoding/json and validate against the schema.
func FuzzMatcher(f *testing.F) {
	for _, tc := range schemas {
		for _, d := range append(tc.accept, tc.reject...) {
			f.Add(d)
		}
	}
	type compiled struct {
		g *Grammar
		s any
	}
	var gs []compiled
	for _, tc := range schemas {
		g, s := compileT(f, tc.schema)
		gs = append(gs, compiled{g, s})
	}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, c := range gs {
			if !matches(c.g, doc) {
				continue
			}
			v, err := grammartest.Decode([]byte(doc))
			if err != nil {
				t.Fatalf("accepted %q does not parse: %v", doc, err)
			}
			if err := grammartest.Check(c.s, v, ""); err != nil {
				t.Fatalf("accepted %q does not validate: %v", doc, err)
			}
		}
	})
}

// Inside a string the mask takes plain-text tokens without walking them:
// it allows exactly what the full walk of the trie allows, budget and
// length limits included.
func TestConstraint_PlainStringShortcutMatchesWalk(t *testing.T) {
	v := byteVocab()
	g, _ := compileT(t, `{"type":"object","properties":{"a":{"type":"string","minLength":3,"maxLength":5},"b":{"type":"string"}},"required":["a","b"]}`)
	for _, prefix := range []string{`{"a":"`, `{"a":"x`, `{"a":"xyz`, `{"a":"xyzw`, `{"b":"日`, `{"b":"`} {
		for _, left := range []int{0, 3, 6, 12, 100} {
			c := NewConstraint(g, v, nil)
			if !c.Feed([]byte(prefix)) {
				t.Fatalf("prefix %q rejected", prefix)
			}
			c.allowed(left)
			fast := append([]uint64(nil), c.allow...)
			clear(c.allow)
			c.walk(&c.v.all, 0, left)
			for i := range fast {
				if fast[i] != c.allow[i] {
					t.Fatalf("prefix %q left %d: word %d: shortcut %064b, walk %064b", prefix, left, i, fast[i], c.allow[i])
				}
			}
		}
	}
}

// A step (mask, then accept) allocates nothing once warm.
func TestConstraint_StepAllocatesNothing(t *testing.T) {
	v := byteVocab()
	g, _ := compileT(t, schemas[1].schema)
	c := NewConstraint(g, v, []int{0})
	if !c.Feed([]byte(`{"name":"`)) {
		t.Fatal("prefix rejected")
	}
	logits := make([]float32, v.Size())
	c.Mask(logits, 100)
	allocs := testing.AllocsPerRun(50, func() {
		c.Mask(logits, 100)
		if err := c.Accept('a'); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per step", allocs)
	}
}

// A tool call names one of the tools first, then gives arguments that
// follow that tool's schema, then the closing tag; with a prefix, the
// opening tag comes first.
func TestToolCall_NameFirstThenItsArguments(t *testing.T) {
	tools := []Tool{
		{Name: "get_weather", Schema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`)},
		{Name: "noop"},
	}
	g, err := ToolCall(tools, "", "</tool_call>")
	if err != nil {
		t.Fatal(err)
	}
	forced, err := ToolCall(tools, "<tool_call>", "</tool_call>")
	if err != nil {
		t.Fatal(err)
	}
	for doc, want := range map[string]bool{
		"\n" + `{"name": "get_weather", "arguments": {"city": "Oslo"}}` + "\n</tool_call>": true,
		`{"name":"noop","arguments":{"anything":[1]}}</tool_call>`:                         true,
		`{"name":"get_weather","arguments":{"town":"Oslo"}}</tool_call>`:                   false,
		`{"arguments":{"city":"Oslo"},"name":"get_weather"}</tool_call>`:                   false,
		`{"name":"get_weather"}</tool_call>`:                                               false,
		`{"name":"other","arguments":{}}</tool_call>`:                                      false,
		`{"name":"noop","arguments":{}}`:                                                   false,
	} {
		if got := matches(g, doc); got != want {
			t.Errorf("%s: matches %v, want %v", doc, got, want)
		}
		if got := matches(forced, "<tool_call>"+doc); got != want {
			t.Errorf("forced <tool_call>%s: matches %v, want %v", doc, got, want)
		}
	}
	if _, err := ToolCall([]Tool{{Name: "x", Schema: json.RawMessage(`{"type":"string"}`)}}, "", ""); err == nil {
		t.Error("a tool whose arguments are a string compiled")
	}
}

// FuzzCompile: any schema compiles or is refused with a SchemaError
// (never a panic), and documents sampled under one that compiles
// validate against it.
func FuzzCompile(f *testing.F) {
	for _, tc := range schemas {
		f.Add(tc.schema, uint64(1))
	}
	f.Add(`{"type":"array","items":{"type":"array","minItems":1000,"items":{"type":"string","minLength":1000}},"minItems":1000}`, uint64(2))
	f.Add(`{"anyOf":[{"type":"integer"},{"enum":["a",1]}]}`, uint64(3))
	f.Add(`{"oneOf":[{"const":1},{"enum":[1,2]}]}`, uint64(5))
	f.Add(`{"oneOf":[{"const":"a"},{"enum":["b","c"]},{"type":"integer"}]}`, uint64(6))
	f.Add(`{"type":["object","null"],"properties":{"a":{"const":"x"}},"required":["a"]}`, uint64(4))
	v := byteVocab()
	f.Fuzz(func(t *testing.T, schema string, seed uint64) {
		g, err := Compile(json.RawMessage(schema))
		if err != nil {
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("%s: %T %v", schema, err, err)
			}
			return
		}
		var s any = map[string]any{"type": "object"}
		if strings.TrimSpace(schema) != "" {
			d := json.NewDecoder(strings.NewReader(schema))
			d.UseNumber()
			if d.Decode(&s) != nil {
				t.Fatalf("%s compiled but does not decode", schema)
			}
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		doc, ok := sample(t, g, v, rng, 200)
		if !ok {
			return // the schema's smallest document is larger than the budget
		}
		val, err := grammartest.Decode(doc)
		if err != nil {
			t.Fatalf("%s: %q does not parse: %v", schema, doc, err)
		}
		if err := grammartest.Check(s, val, ""); err != nil {
			t.Fatalf("%s: %q: %v", schema, doc, err)
		}
	})
}

// oneOf alternatives that hold disjoint literals, or differ in type,
// compile and keep their values; under anyOf overlapping literals are
// merged (a value may match several alternatives).
func TestCompile_OneOfDisjointAndAnyOfOverlap(t *testing.T) {
	for _, c := range []struct{ schema, doc string }{
		{`{"oneOf":[{"const":"a"},{"enum":["b","c"]},{"type":"integer"}]}`, `"c"`},
		{`{"oneOf":[{"type":"boolean"},{"type":"null"}]}`, `null`},
		{`{"anyOf":[{"const":"a"},{"enum":["a","b"]}]}`, `"a"`},
		{`{"anyOf":[{"type":"boolean"},{"const":true}]}`, `true`},
	} {
		g, err := Compile(json.RawMessage(c.schema))
		if err != nil {
			t.Errorf("%s: %v", c.schema, err)
			continue
		}
		if !matches(g, c.doc) {
			t.Errorf("%s does not take %s", c.schema, c.doc)
		}
	}
}

// A dead end (no token of the vocabulary continues the document: here the
// vocabulary has no "b" for a required key) is an error, not a document
// that may end: the stop token stays masked, as when there are no stops.
func TestConstraint_DeadEndIsAnError(t *testing.T) {
	toks := []string{"<eos>", "{", "}", `"`, ":", "a", "1"} // no 'b'
	v := NewVocab(len(toks), func(id int) []byte {
		if id == 0 {
			return nil
		}
		return []byte(toks[id])
	})
	g, err := Compile(json.RawMessage(`{"type":"object","properties":{"b":{"type":"integer"}},"required":["b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, stops := range [][]int{{0}, nil} {
		c := NewConstraint(g, v, stops)
		if err := c.Accept(1); err != nil {
			t.Fatal(err)
		}
		if err := c.Accept(3); err != nil { // {"
			t.Fatal(err)
		}
		logits := make([]float32, len(toks))
		if err := c.Mask(logits, math.MaxInt32); !errors.Is(err, ErrDeadEnd) {
			t.Errorf("stops %v: Mask at a dead end: %v, logits %v; want ErrDeadEnd", stops, err, logits)
		}
	}
}

// Free keys (an object without properties) are written at most once per
// object; the same key in another object, nested or a sibling, is fine.
func TestMatcher_FreeKeysDoNotRepeat(t *testing.T) {
	for _, c := range []struct {
		schema, doc string
		want        bool
	}{
		{`{"type":"object","additionalProperties":{"type":"integer"}}`, `{"a":1,"a":2}`, false},
		{`{"type":"object","additionalProperties":{"type":"integer"}}`, `{"a":1,"b":2,"ab":3}`, true},
		{``, `{"a":{"a":1},"b":[{"a":1},{"a":2,"b":{}}],"c":1}`, true},
		{``, `{"a":{"a":1},"b":2,"a":3}`, false},
		{``, `[{"x":1},{"x":1,"y":{"x":1,"x":2}}]`, false},
	} {
		schema := c.schema
		if schema == "" {
			schema = `{"type":"array","items":{"type":"object"}}`
			if c.doc[0] == '{' {
				schema = `{"type":"object"}`
			}
		}
		g, err := Compile(json.RawMessage(schema))
		if err != nil {
			t.Fatal(err)
		}
		if got := matches(g, c.doc); got != c.want {
			t.Errorf("%s takes %s: %v, want %v", schema, c.doc, got, c.want)
		}
	}
}
