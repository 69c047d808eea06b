package chattemplate

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nikolalohinski/gonja/v2/builtins"
)

func mustParse(t *testing.T, src string) *Template {
	t.Helper()
	tpl, err := Parse(src, "<s>", "</s>")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tpl
}

func TestRender_MessageDicts(t *testing.T) {
	tpl := mustParse(t, `{{ messages|tojson }}`)
	got, err := tpl.Render(Input{Messages: []Message{
		{Role: "user", Parts: []Part{{Type: "image"}, {Type: "text", Text: "hi"}}},
		{Role: "assistant", NullContent: true, ReasoningContent: "r", ToolCalls: []ToolCall{
			{ID: "c1", Function: FunctionCall{Name: "f", Arguments: raw(`{"b": 1, "a": [true, null]}`)}},
			{Type: "function", Function: FunctionCall{Name: "g", Arguments: raw(`"{\"as\": \"text\"}"`)}},
			{Function: FunctionCall{Name: "h"}},
			{Function: FunctionCall{Name: "i", Arguments: raw(`not json`)}},
		}},
		{Role: "tool", Content: "42", ToolCallID: "c1", Name: "f"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}, ` +
		`{"role": "assistant", "content": null, "reasoning_content": "r", "tool_calls": [` +
		`{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"b": 1, "a": [true, null]}}}, ` +
		`{"type": "function", "function": {"name": "g", "arguments": "{\"as\": \"text\"}"}}, ` +
		`{"type": "function", "function": {"name": "h", "arguments": {}}}, ` +
		`{"type": "function", "function": {"name": "i", "arguments": "not json"}}]}, ` +
		`{"role": "tool", "content": "42", "tool_call_id": "c1", "name": "f"}]`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestRender_Tools(t *testing.T) {
	tpl := mustParse(t, `{{ tools is none }}|{% for t in tools %}{{ t|tojson }}{% endfor %}`)
	got, err := tpl.Render(Input{})
	if err != nil || got != "True|" {
		t.Errorf("no tools: got %q, %v", got, err)
	}
	got, err = tpl.Render(Input{Tools: []Tool{
		{Function: Function{Name: "f", Description: "d", Parameters: raw(`{"type": "object", "properties": {"z": {}, "a": {}}}`)}},
		{Type: "function", Function: Function{Name: "g"}},
	}})
	want := `False|{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {"z": {}, "a": {}}}}}` +
		`{"type": "function", "function": {"name": "g"}}`
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	_, err = tpl.Render(Input{Tools: []Tool{{Function: Function{Name: "bad", Parameters: raw(`{`)}}}})
	if err == nil || !strings.Contains(err.Error(), `tool "bad" parameters`) {
		t.Errorf("bad parameters: %v", err)
	}
}

func TestRender_ExtraAndReservedVariables(t *testing.T) {
	tpl := mustParse(t, `{{ add_generation_prompt }} {{ enable_thinking }} {{ messages|length }} {{ m|tojson }} {{ l|tojson }} {{ s|tojson }}`)
	got, err := tpl.Render(Input{
		AddGenerationPrompt: true,
		Extra: map[string]any{
			"enable_thinking":       false,
			"messages":              "ignored",
			"add_generation_prompt": false,
			"m":                     map[string]any{"b": 1, "a": nil},
			"l":                     []any{int64(1), float32(0.5), "x"},
			"s":                     struct{ A int }{A: 3},
		},
	})
	want := `True False 0 {"a": null, "b": 1} [1, 0.5, "x"] {"A": 3}`
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	if _, err := tpl.Render(Input{Extra: map[string]any{"c": make(chan int)}}); err == nil {
		t.Error("unconvertible extra: no error")
	}
}

func TestRender_SpecialTokensUndefinedWhenEmpty(t *testing.T) {
	tpl, err := Parse(`{{ bos_token is defined }} {{ eos_token }}`, "", "<eos>")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tpl.Render(Input{}); err != nil || got != "False <eos>" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestRender_RaiseException(t *testing.T) {
	tpl := mustParse(t, "{% for m in messages %}\n{% if m.role == 'tool' %}\n{{ raise_exception('Tools are not supported: ' + m.role) }}\n{% endif %}\n{% endfor %}")
	_, err := tpl.Render(Input{Messages: []Message{{Role: "user"}, {Role: "tool"}}})
	var te *Error
	if !errors.As(err, &te) || !errors.Is(err, ErrRaised) {
		t.Fatalf("got %v, want a raised *Error", err)
	}
	if te.Msg != "Tools are not supported: tool" || te.Line != 3 || te.Template != "chat_template" || !te.Raised {
		t.Errorf("got %+v", te)
	}
	if want := "chat template chat_template line 3: raise_exception: Tools are not supported: tool"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestRender_ErrorsNameTemplateAndLine(t *testing.T) {
	for _, c := range []struct {
		name, src string
		line      int
	}{
		{"unknown filter", "a\n\n{{ messages|nosuchfilter }}", 3},
		{"undefined attribute chain", "a\n{{ nope.x.y }}", 2},
		{"method of a number", "a\nb\n{% if true %}\n{{ (1).strip() }}\n{% endif %}", 4},
		{"set in nested tags, trim_blocks", "{% for m in messages %}\n{% if m.role == 'user' %}\n{% set x = (1).strip() %}\n{% endif %}\n{% endfor %}", 3},
		{"for over a failing expression", "\n{% for m in nope.x %}\n{% endfor %}", 2},
		{"include refused", "{% include 'other.jinja' %}", 1},
		{"self include refused", "\n{% include 'chat_template' %}", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			tpl, err := Parse(c.src, "", "")
			if err == nil {
				_, err = tpl.Render(Input{Messages: conversation()})
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want *Error", err)
			}
			if te.Line != c.line || te.Template != "chat_template" || te.Raised {
				t.Errorf("got %+v, want line %d", te, c.line)
			}
			if strings.Contains(te.Msg, "ControlStructure(") {
				t.Errorf("message keeps gonja's tag chain: %q", te.Msg)
			}
		})
	}
}

func TestRender_EnginePanicIsError(t *testing.T) {
	for _, src := range []string{`{{ 1 % 0 }}`, `{{ 'a' * -1 }}`} {
		tpl := mustParse(t, src)
		var te *Error
		if _, err := tpl.Render(Input{}); !errors.As(err, &te) || !strings.Contains(te.Msg, "template engine failed") {
			t.Errorf("%s: got %v", src, err)
		}
	}
}

func TestParse_SyntaxErrorNamesLine(t *testing.T) {
	for _, c := range []struct {
		src  string
		line int
	}{
		{"ok\n{% for %}\n", 2},
		{"ok\nb\n{{ (1 + }}", 3},
		{"ok\n{% foo %}", 2},
		{"ok\n{% if x %}{% endfor %}", 2},
		{"ok\n{% set x = %}", 2},
		{"ok\n{{ a if b else }}", 2},
		{"ok\n{{ a if else b }}", 2},
	} {
		_, err := Parse(c.src, "", "")
		var te *Error
		if !errors.As(err, &te) || te.Line != c.line || te.Template != "chat_template" {
			t.Errorf("%q: got %#v, want line %d", c.src, err, c.line)
			continue
		}
		if strings.Contains(te.Msg, "ok\n") {
			t.Errorf("%q: message holds the template source: %q", c.src, te.Msg)
		}
	}
}

func TestRender_StrftimeNow(t *testing.T) {
	tpl := mustParse(t, `{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%-d %B') }}`)
	tpl.now = func() time.Time { return time.Date(2024, 7, 6, 15, 4, 5, 0, time.UTC) }
	if got, err := tpl.Render(Input{}); err != nil || got != "06 Jul 2024|6 July" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestStrftime_Directives(t *testing.T) {
	at := time.Date(2024, 3, 9, 15, 4, 5, 123456000, time.UTC)
	got := strftime(at, "%a %A %b %B %d %e %m %y %Y %H %I %p %M %S %f %j %w %u %z %Z %% %-H %-m %Q")
	want := "Sat Saturday Mar March 09  9 03 24 2024 15 03 PM 04 05 123456 069 6 6 +0000 UTC % 15 3 %Q"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestPythonFloat_Repr(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", 1: "1.0", -2.5: "-2.5", 0.1: "0.1", 1e-4: "0.0001", 1e-5: "1e-05",
		1e15: "1000000000000000.0", 1e16: "1e+16", 1.5e300: "1.5e+300", 123456.789: "123456.789",
	} {
		if got := pythonFloat(f); got != want {
			t.Errorf("pythonFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestMethods_BuiltinsStillResolve(t *testing.T) {
	check := func(kind string, names []string, has func(string) bool) {
		for _, n := range names {
			if !has(n) {
				t.Errorf("gonja has no %s method %q any more", kind, n)
			}
		}
	}
	b := builtins.Methods
	check("str", builtinStrMethods, b.Str.Exists)
	check("dict", builtinDictMethods, b.Dict.Exists)
	check("list", builtinListMethods, b.List.Exists)
	check("int", builtinIntMethods, b.Int.Exists)
	check("float", builtinFloatMethods, b.Float.Exists)
	check("bool", builtinBoolMethods, b.Bool.Exists)
}

// TestRender_Concurrent renders one template from many goroutines (run
// with -race) and expects each render to equal its sequential result.
func TestRender_Concurrent(t *testing.T) {
	tpl := mustParse(t, `{%- set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}`+
		`{{ m.role }}:{{ m.content|trim }}{{ (' [' + m.name + ']') if m.name is defined else '' }};{% endfor %}{{ ns.n }}{{ tools|tojson }}`)
	inputs := make([]Input, 16)
	want := make([]string, len(inputs))
	for i := range inputs {
		inputs[i] = Input{Messages: []Message{{Role: "user", Content: fmt.Sprintf(" m%d ", i)}, {Role: "tool", Content: "r", Name: fmt.Sprint(i)}}}
		if i%2 == 0 {
			inputs[i].Tools = []Tool{{Function: Function{Name: fmt.Sprint("f", i)}}}
		}
		var err error
		if want[i], err = tpl.Render(inputs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 50 {
				i := (g + r) % len(inputs)
				got, err := tpl.Render(inputs[i])
				if err != nil || got != want[i] {
					t.Errorf("render %d: got %q, %v, want %q", i, got, err, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestTemplate_Source(t *testing.T) {
	tpl, err := Parse("{% if tools %}<tool_call>{% endif %}{{ messages[0].content }}", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tpl.Source(), "<tool_call>") {
		t.Errorf("Source() = %q", tpl.Source())
	}
}
