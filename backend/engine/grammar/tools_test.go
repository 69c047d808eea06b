package grammar

import (
	"encoding/json"
	"testing"
)

// The call grammars of the families whose calls are a JSON array, a
// tool's arguments alone (harmony), and a forced call after newlines.
func TestCallGrammars_AcceptAndReject(t *testing.T) {
	tools := []Tool{{Name: "f", Schema: json.RawMessage(`{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false}`)}, {Name: "g"}}
	calls, err := Calls(tools, "arguments")
	if err != nil {
		t.Fatal(err)
	}
	args, err := Arguments(tools[0])
	if err != nil {
		t.Fatal(err)
	}
	anyArgs, err := Arguments(tools[1])
	if err != nil {
		t.Fatal(err)
	}
	forced, err := ToolCall(tools[:1], "<tool_call>", "</tool_call>")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		g    *Grammar
		doc  string
		want bool
	}{
		{"array of calls", calls, `[{"name":"f","arguments":{"x":1}}, {"name":"g","arguments":{"y":[]}}]`, true},
		{"empty array", calls, `[]`, false},
		{"a bare call", calls, `{"name":"f","arguments":{"x":1}}`, false},
		{"arguments off the schema", calls, `[{"name":"f","arguments":{"x":"1"}}]`, false},
		{"a tool not offered", calls, `[{"name":"h","arguments":{}}]`, false},
		{"arguments", args, `{"x":3}`, true},
		{"arguments missing x", args, `{}`, false},
		{"any object", anyArgs, `{"a":{"b":1}}`, true},
		{"not an object", anyArgs, `[1]`, false},
		{"newlines before a forced call", forced.AfterNewlines(), "\n\n<tool_call>{\"name\":\"f\",\"arguments\":{\"x\":1}}</tool_call>", true},
		{"spaces before a forced call", forced.AfterNewlines(), " <tool_call>{\"name\":\"f\",\"arguments\":{\"x\":1}}</tool_call>", false},
		{"newlines without AfterNewlines", forced, "\n<tool_call>{\"name\":\"f\",\"arguments\":{\"x\":1}}</tool_call>", false},
	}
	for _, tt := range tests {
		m := tt.g.NewMatcher()
		if got := m.Feed([]byte(tt.doc)) && m.Done(); got != tt.want {
			t.Errorf("%s: %s accepted %v, want %v", tt.name, tt.doc, got, tt.want)
		}
	}
	if _, err := Arguments(Tool{Name: "s", Schema: json.RawMessage(`{"type":"string"}`)}); err == nil {
		t.Error("a string's schema is accepted as arguments")
	}
}

// Allows tries bytes without advancing, and counts the budget.
func TestConstraint_Allows(t *testing.T) {
	g, err := Call([]Tool{{Name: "f"}}, "", "", "parameters")
	if err != nil {
		t.Fatal(err)
	}
	v := NewVocab(1, func(int) []byte { return []byte("{") })
	c := NewConstraint(g, v, nil)
	if !c.Allows([]byte(`{"na`), 100) || c.Allows([]byte(`{}`), 100) || c.Allows([]byte(`{"na`), 3) {
		t.Error("Allows: wrong answer")
	}
	if c.Dist() != len(`{"name":"f","parameters":{}}`) {
		t.Errorf("Dist %d after tries: the state moved", c.Dist())
	}
}
