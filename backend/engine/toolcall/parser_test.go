package toolcall

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// run feeds the output in chunks of every size from 1 to len (so markers
// and JSON are split at every possible point) and checks each gives the
// same parts, merged.
func run(t *testing.T, s Syntax, think, startThinking bool, output string) []Part {
	t.Helper()
	var first []Part
	for size := 1; size <= len(output); size++ {
		p := NewParser(s, think, startThinking)
		var parts []Part
		for i := 0; i < len(output); i += size {
			parts = append(parts, p.Add(output[i:min(i+size, len(output))])...)
		}
		parts = merge(append(parts, p.Finish()...))
		if size == 1 {
			first = parts
			continue
		}
		if diff := cmp.Diff(first, parts); diff != "" {
			t.Fatalf("chunks of %d differ from chunks of 1 (-1 +%d):\n%s", size, size, diff)
		}
	}
	return first
}

// merge joins consecutive text or reasoning parts.
func merge(parts []Part) []Part {
	var out []Part
	for _, p := range parts {
		if n := len(out); n > 0 && p.Kind != Call && out[n-1].Kind == p.Kind {
			out[n-1].Text += p.Text
			continue
		}
		out = append(out, p)
	}
	return out
}

func text(s string) Part      { return Part{Kind: Text, Text: s} }
func reasoning(s string) Part { return Part{Kind: Reasoning, Text: s} }
func callOf(name, args string) Part {
	return Part{Kind: Call, Name: name, Arguments: json.RawMessage(args)}
}

func TestParser(t *testing.T) {
	tests := []struct {
		name          string
		syntax        Syntax
		think         bool
		startThinking bool
		output        string
		want          []Part
	}{
		{"plain text", Hermes, true, false, "Hello <b>world</b>", []Part{text("Hello <b>world</b>")}},
		{"qwen thinking then answer", Hermes, true, false, "<think>\nLet me see.\n</think>\n\nIt is 4.",
			[]Part{reasoning("\nLet me see.\n"), text("It is 4.")}},
		{"generation prompt opened thinking", Hermes, true, true, "hmm</think>\n\nDone.", []Part{reasoning("hmm"), text("Done.")}},
		{"hermes parallel calls", Hermes, false, false,
			"I'll check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Tokyo\", \"unit\": \"c\"}}\n</tool_call>",
			[]Part{text("I'll check.\n"), callOf("get_weather", `{"city":"Paris"}`), text("\n"), callOf("get_weather", `{"city":"Tokyo","unit":"c"}`)}},
		{"hermes arguments as a string", Hermes, false, false, `<tool_call>{"name":"f","arguments":"{\"a\": 1}"}</tool_call>`,
			[]Part{callOf("f", `{"a":1}`)}},
		{"hermes closing tag inside a string value", Hermes, false, false, `<tool_call>{"name":"search","arguments":{"q":"a</tool_call>\"b"}}</tool_call> ok`,
			[]Part{callOf("search", `{"q":"a</tool_call>\"b"}`), text(" ok")}},
		{"phi4 closing marker inside a string value", Phi4, false, false, `<|tool_call|>[{"name":"f","arguments":{"s":"<|/tool_call|>"}}]<|/tool_call|>`,
			[]Part{callOf("f", `{"s":"<|/tool_call|>"}`)}},
		{"hermes broken call is text", Hermes, false, false, "<tool_call>{not json}</tool_call> ok",
			[]Part{text("<tool_call>{not json}</tool_call> ok")}},
		{"hermes unclosed call parses at the end", Hermes, false, false, `<tool_call>{"name":"f","arguments":{}}`,
			[]Part{callOf("f", `{}`)}},
		{"llama3 bare json", Llama3, false, false, `{"name": "get_weather", "parameters": {"city": "Paris"}}`,
			[]Part{callOf("get_weather", `{"city":"Paris"}`)}},
		{"llama3 python tag, two calls", Llama3, false, false, `<|python_tag|>{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"x": [1, ";"]}}`,
			[]Part{callOf("a", `{}`), callOf("b", `{"x":[1,";"]}`)}},
		{"llama3 text that starts with a brace", Llama3, false, false, `{this is not a call}`, []Part{text(`{this is not a call}`)}},
		{"llama3 plain text streams", Llama3, false, false, "Sure <b>", []Part{text("Sure <b>")}},
		{"mistral calls", Mistral, false, false, `[TOOL_CALLS][{"name": "f", "arguments": {"q": "x"}}, {"name": "g", "arguments": {}}]`,
			[]Part{callOf("f", `{"q":"x"}`), callOf("g", `{}`)}},
		{"mistral text then calls", Mistral, false, false, `Let me look. [TOOL_CALLS][{"name": "f", "arguments": {}}]`,
			[]Part{text("Let me look. "), callOf("f", `{}`)}},
		{"smollm3 thinking then a call", Hermes, true, false,
			"<think>\nThe user wants weather.\n</think>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
			[]Part{reasoning("\nThe user wants weather.\n"), callOf("get_weather", `{"city":"Paris"}`)}},
		{"smollm3 no_think: the prompt closed an empty block", Hermes, true, false, "Paris is sunny.", []Part{text("Paris is sunny.")}},
		{"mixtral calls after text", Mistral, false, false, ` [TOOL_CALLS] [{"name": "f", "arguments": {"q": "x"}, "id": "aB3dE5gH9"}]`,
			[]Part{callOf("f", `{"q":"x"}`)}},
		{"phi4-mini tool_call tokens", Phi4, false, false, `<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "g", "arguments": {}}]<|/tool_call|>`,
			[]Part{callOf("get_weather", `{"city":"Paris"}`), callOf("g", `{}`)}},
		{"phi4-mini openai-style call in the tags", Phi4, false, false, `Sure.<|tool_call|>[{"type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]<|/tool_call|>`,
			[]Part{text("Sure."), callOf("f", `{"a":1}`)}},
		{"phi4-mini functools", Phi4, false, false, `functools[{"name": "f", "arguments": {"x": 1}}]`, []Part{callOf("f", `{"x":1}`)}},
		{"phi4-mini broken call is text", Phi4, false, false, `<|tool_call|>[{"name": }]<|/tool_call|>ok`, []Part{text(`<|tool_call|>[{"name": }]<|/tool_call|>ok`)}},
		{"phi4-mini text", Phi4, false, false, "The <|end of it", []Part{text("The <|end of it")}},
		{"harmony analysis then final", Harmony, true, false,
			"<|channel|>analysis<|message|>User asks 2+2. Easy.<|end|><|start|>assistant<|channel|>final<|message|>It is 4.",
			[]Part{reasoning("User asks 2+2. Easy."), text("It is 4.")}},
		{"harmony call, recipient before the channel", Harmony, true, false,
			"<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{\"city\": \"Paris\"}",
			[]Part{reasoning("Need weather."), callOf("get_weather", `{"city":"Paris"}`)}},
		{"harmony call, recipient after the channel", Harmony, true, false,
			"<|channel|>commentary to=functions.lookup <|constrain|>json<|message|>{\"q\":\"x\"}<|call|>",
			[]Part{callOf("lookup", `{"q":"x"}`)}},
		{"harmony preamble then call", Harmony, true, false,
			"<|channel|>commentary<|message|>Checking the weather.<|end|><|start|>assistant to=functions.f<|channel|>commentary json<|message|>{}",
			[]Part{text("Checking the weather."), callOf("f", `{}`)}},
		{"harmony broken call is text", Harmony, true, false,
			"<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"city\": ", []Part{text(`{"city": `)}},
		{"harmony plain text stays text", Harmony, true, false, "Hello <|there|>", []Part{text("Hello <|there|>")}},
		{"harmony truncated header is dropped", Harmony, true, false, "<|channel|>analysis<|message|>hm<|end|><|start|>assistant<|chan",
			[]Part{reasoning("hm")}},
		{"harmony final with markup-like text", Harmony, true, false, "<|channel|>final<|message|>Use <|end to end<|return|>",
			[]Part{text("Use <|end to end")}},
		{"no syntax", None, false, false, `<tool_call>{"name":"f"}</tool_call>`, []Part{text(`<tool_call>{"name":"f"}</tool_call>`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, tt.syntax, tt.think, tt.startThinking, tt.output)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Text is released as soon as it cannot be part of a marker.
func TestParser_ReleasesTextEarly(t *testing.T) {
	p := NewParser(Hermes, true, false)
	if got := p.Add("Hello wor"); len(got) != 1 || got[0].Text != "Hello wor" {
		t.Errorf("Add = %+v, want the text at once", got)
	}
	if got := p.Add("ld <tool_"); len(got) != 1 || got[0].Text != "ld " {
		t.Errorf("Add = %+v, want the text before a possible marker", got)
	}
}

func TestDetect(t *testing.T) {
	tests := map[string][2]any{
		"{% if tools %}<tool_call>{% endif %}<think>":                             {Hermes, true},
		"<|start_header_id|>ipython<|end_header_id|>":                             {Llama3, false},
		"[AVAILABLE_TOOLS][TOOL_CALLS]":                                           {Mistral, false},
		"{{ messages }}":                                                          {None, false},
		"<|start|>assistant<|channel|>analysis<|message|>{{ m.thinking }}<|end|>": {Harmony, true},
		"{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + message['tools'] + '<|/tool|>' }}": {Phi4, false},
		"<start_of_turn>user\n{{ m.content }}<end_of_turn>":                                                      {None, false},
		"<|im_start|>{{ m.role }}<|im_sep|>{{ m.content }}<|im_end|>":                                            {None, false},
		"<|system|>\n{{ m.content }}<|end|>":                                                                     {None, false},
		"/no_think <think>\n\n</think>\n <tool_call>":                                                            {Hermes, true},
	}
	for tmpl, want := range tests {
		s, think := Detect(tmpl)
		if s != want[0].(Syntax) || think != want[1].(bool) {
			t.Errorf("Detect(%q) = %v, %v; want %v", tmpl, s, think, want)
		}
	}
}

func FuzzParser(f *testing.F) {
	f.Add("<think>a</think><tool_call>{\"name\":\"f\",\"arguments\":{}}</tool_call>", uint8(1), uint8(3))
	f.Add(`<|python_tag|>{"name":"a","parameters":{}}`, uint8(2), uint8(5))
	f.Add(`<|channel|>analysis<|message|>a<|end|><|start|>assistant to=functions.f<|channel|>commentary json<|message|>{}<|call|>`, uint8(4), uint8(7))
	f.Add(`<|tool_call|>[{"name":"f","arguments":{}}]<|/tool_call|>`, uint8(5), uint8(2))
	f.Fuzz(func(t *testing.T, output string, syntax, chunk uint8) {
		p := NewParser(Syntax(syntax%6), syntax%2 == 0, false)
		size := int(chunk%16) + 1
		var parts []Part
		for i := 0; i < len(output); i += size {
			parts = append(parts, p.Add(output[i:min(i+size, len(output))])...)
		}
		parts = append(parts, p.Finish()...)
		// Nothing is lost: text and reasoning together hold every byte
		// that is not markup of a parsed call or a think tag.
		n := 0
		for _, part := range parts {
			n += len(part.Text)
			if part.Kind == Call && !json.Valid(part.Arguments) {
				t.Fatalf("call with invalid arguments %q", part.Arguments)
			}
		}
		if n > len(output) {
			t.Fatalf("parts hold %d bytes of a %d-byte output", n, len(output))
		}
	})
}

func TestEndOfTurn(t *testing.T) {
	tests := map[string][]string{
		"<|start|>assistant<|channel|>final<|message|>{{ c }}<|end|>": {"<|return|>", "<|call|>"},
		"<|user|>{{ c }}<|end|><|assistant|>":                         {"<|end|>"},
		"<|im_start|>user<|im_sep|>{{ c }}<|im_end|>":                 {"<|im_end|>"},
		"<start_of_turn>model\n{{ c }}<end_of_turn>":                  {"<end_of_turn>"},
		"<|start_header_id|>user<|end_header_id|>{{ c }}<|eot_id|>":   {"<|eot_id|>", "<|eom_id|>"},
		"[INST] {{ c }} [/INST]":                                      nil,
	}
	for tmpl, want := range tests {
		if diff := cmp.Diff(want, EndOfTurn(tmpl)); diff != "" {
			t.Errorf("EndOfTurn(%q) (-want +got):\n%s", tmpl, diff)
		}
	}
}
