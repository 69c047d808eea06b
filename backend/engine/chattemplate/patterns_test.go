package chattemplate

import (
	"errors"
	"testing"
	"time"
)

// Idioms of real chat templates that the test corpus's templates do not
// use (Llama 3.1 and Mistral, whose templates no npm package ships),
// condensed from those templates. Expected outputs were checked against
// @huggingface/jinja where it supports the idiom, and by Python's rules
// where it does not (noted).
func TestPatterns_RealTemplateIdioms(t *testing.T) {
	weather := Tool{Function: Function{Name: "get_weather", Description: "Weather",
		Parameters: raw(`{"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}`)}}
	call := func(id string, args string) ToolCall {
		return ToolCall{ID: id, Function: FunctionCall{Name: "get_weather", Arguments: raw(args)}}
	}
	for _, c := range []struct {
		name   string
		src    string
		in     Input
		want   string
		raises string
	}{
		{name: "llama 3.1 header: date, system message, messages[1:]",
			src: `{%- if not date_string is defined %}{%- if strftime_now is defined %}{%- set date_string = strftime_now("%d %b %Y") %}` +
				`{%- else %}{%- set date_string = "26 Jul 2024" %}{%- endif %}{%- endif %}` + "\n" +
				`{%- if not tools is defined %}{%- set tools = none %}{%- endif %}` + "\n" +
				`{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}` +
				`{%- else %}{%- set system_message = "" %}{%- endif %}` + "\n" +
				`{{- date_string }}|{{ system_message }}|{{ messages|length }}|{{ tools is not none }}`,
			in:   Input{Messages: []Message{{Role: "system", Content: "  Sys  "}, {Role: "user", Content: "u"}}},
			want: "06 Jul 2024|Sys|1|False"},
		{name: "llama 3.1 tools as indented JSON",
			src:  "{%- for t in tools %}\n    {{- t | tojson(indent=4) }}\n    {{- \"\\n\\n\" }}\n{%- endfor %}",
			in:   Input{Tools: []Tool{weather}},
			want: "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Weather\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\"\n                },\n                \"days\": {\n                    \"type\": \"integer\"\n                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n        }\n    }\n}\n\n"},
		{name: "llama 3.1 tool call and tool result",
			src: `{%- for message in messages %}{%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}` +
				`{{- message['role'] + ': ' + message['content'] | trim + ';' }}` +
				`{%- elif 'tool_calls' in message %}{%- if not message.tool_calls|length == 1 %}{{- raise_exception("This model only supports single tool-calls at once!") }}{%- endif %}` +
				`{%- set tool_call = message.tool_calls[0].function %}{{- '{"name": "' + tool_call.name + '", "parameters": ' }}{{- tool_call.arguments | tojson }}{{- "};" }}` +
				`{%- elif message.role == "tool" %}{%- if message.content is mapping or message.content is iterable %}{{- message.content | tojson }}{%- else %}{{- message.content }}{%- endif %}` +
				`{%- endif %}{%- endfor %}`,
			in: Input{Messages: []Message{{Role: "user", Content: " Weather? "}, {Role: "assistant", ToolCalls: []ToolCall{call("c1", `{"city": "Paris", "days": 2}`)}},
				{Role: "tool", Content: `{"t": 20}`, ToolCallID: "c1"}}},
			want: `user: Weather?;{"name": "get_weather", "parameters": {"city": "Paris", "days": 2}};"{\"t\": 20}"`},
		{name: "llama 3.1 refuses parallel calls",
			src:    `{%- for message in messages %}{%- if 'tool_calls' in message and not message.tool_calls|length == 1 %}{{- raise_exception("This model only supports single tool-calls at once!") }}{%- endif %}{%- endfor %}`,
			in:     Input{Messages: []Message{{Role: "assistant", ToolCalls: []ToolCall{call("a", `{}`), call("b", `{}`)}}}},
			raises: "This model only supports single tool-calls at once!"},
		{name: "mistral tools: items() with a loop filter, loop.last, tojson slicing",
			src: `{%- for tool in tools %}{%- set tool = tool.function %}{{- '{"type": "function", "function": {' }}` +
				`{%- for key, val in tool.items() if key != "return" %}{%- if val is string %}{{- '"' + key + '": "' + val + '"' }}` +
				`{%- else %}{{- '"' + key + '": ' + val|tojson }}{%- endif %}{%- if not loop.last %}{{- ", " }}{%- endif %}{%- endfor %}{{- "}}" }}{%- endfor %}` +
				`{%- for message in messages %}{%- for tool_call in message.tool_calls %}{%- set out = tool_call.function|tojson %}{{- out[:-1] }}` +
				`{%- if not tool_call.id is defined or tool_call.id|length != 9 %}{{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}{%- endif %}` +
				`{{- ', "id": "' + tool_call.id + '"}' }}{%- endfor %}{%- endfor %}`,
			in: Input{Tools: []Tool{weather}, Messages: []Message{{Role: "assistant", ToolCalls: []ToolCall{call("abcdefghi", `{"city": "Paris"}`)}}}},
			want: `{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}}}` +
				`{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abcdefghi"}`},
		{name: "mistral alternation check (selectattr undefined; Python raises, @huggingface/jinja does not)",
			src: `{%- for message in messages | rejectattr("role", "equalto", "tool") | selectattr("tool_calls", "undefined") %}` +
				`{%- if (message["role"] == "user") != (loop.index0 % 2 == 0) %}{{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}{%- endif %}{%- endfor %}ok`,
			in:     Input{Messages: []Message{{Role: "user", Content: "a"}, {Role: "user", Content: "b"}}},
			raises: "After the optional system message, conversation roles must alternate user/assistant/user/assistant/..."},
		{name: "mistral last user message and nested content",
			src: `{%- set user_messages = messages | selectattr("role", "equalto", "user") | list %}{%- for message in messages %}` +
				`{%- if message == user_messages[-1] %}[last]{% endif %}{%- if message.content is defined and message.content.content is defined %}{{ message.content.content }}` +
				`{%- else %}{{ message.content }}{%- endif %};{%- endfor %}`,
			in:   Input{Messages: []Message{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}, {Role: "user", Content: "c"}}},
			want: "a;b;[last]c;"},
		{name: "content from parts in a conditional set, loop.cycle, list building (Python's rules)",
			src: "{%- for message in messages %}\n" +
				"{%- set content = message['content'] if message['content'] is string else message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('\\n') %}\n" +
				"{{- message.role|upper }}({{ loop.cycle('odd', 'even') }}): {{ content }}\n{% endfor %}\n" +
				"{%- set ns = namespace(roles=[]) %}{%- for m in messages %}{% set ns.roles = ns.roles + [m.role] %}{% endfor %}\n" +
				"{{- ns.roles|unique|list|join(',') }}|{{ messages|map(attribute='role')|select('equalto', 'user')|list|length }}|{{ '\\n'.join(['a', 'b']) }}|{{ '7'|int + 1 }}",
			in: Input{Messages: []Message{{Role: "system", Content: "S"}, {Role: "user", Parts: []Part{{Type: "text", Text: "look"}, {Type: "image"}, {Type: "text", Text: "here"}}},
				{Role: "user", Content: "U2"}}},
			want: "SYSTEM(odd): S\nUSER(even): look\nhere\nUSER(odd): U2\nsystem,user|2|a\nb|8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tpl := mustParse(t, c.src)
			tpl.now = func() time.Time { return time.Date(2024, 7, 6, 0, 0, 0, 0, time.UTC) }
			got, err := tpl.Render(c.in)
			if c.raises != "" {
				var te *Error
				if !errors.As(err, &te) || !te.Raised || te.Msg != c.raises {
					t.Errorf("got %q, %v; want raise_exception(%q)", got, err, c.raises)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got  %q, %v\nwant %q", got, err, c.want)
			}
		})
	}
}
