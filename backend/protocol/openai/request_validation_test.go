package openai

import (
	"errors"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/protocol"
)

// withMessages is a request with the given messages array.
func withMessages(msgs string) string {
	return `{"model":"m","messages":` + msgs + `}`
}

// withFields is a valid request with extra top-level fields.
func withFields(fields string) string {
	return `{"model":"m","messages":[{"role":"user","content":"hi"}],` + fields + `}`
}

const (
	userHi    = `{"role":"user","content":"hi"}`
	callF     = `{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}`
	toolsF    = `"tools":[{"type":"function","function":{"name":"f"}}]`
	imagePart = `{"role":"user","content":[{"type":"image_url","image_url":{"url":%s}}]}`
)

func image(url string) string {
	return withMessages("[" + strings.Replace(imagePart, "%s", url, 1) + "]")
}

func TestDecodeChatRequest_Errors(t *testing.T) {
	tests := []struct {
		name, body, wantParam string
	}{
		{"empty body", ``, ""},
		{"not an object", `[1]`, ""},
		{"broken JSON", `{"model":`, ""},
		{"missing model", `{"messages":[` + userHi + `]}`, "model"},
		{"empty model", `{"model":"","messages":[` + userHi + `]}`, "model"},
		{"model not a string", `{"model":1,"messages":[` + userHi + `]}`, "model"},
		{"missing messages", `{"model":"m"}`, "messages"},
		{"messages not an array", withMessages(`{}`), "messages"},
		{"no messages", withMessages(`[]`), "messages"},
		{"message not an object", withMessages(`[` + userHi + `,"hi"]`), "messages[1]"},
		{"message null", withMessages(`[null]`), "messages[0]"},
		{"missing role", withMessages(`[{"content":"hi"}]`), "messages[0].role"},
		{"unknown role", withMessages(`[{"role":"robot","content":"hi"}]`), "messages[0].role"},
		{"role not a string", withMessages(`[{"role":1,"content":"hi"}]`), "messages[0].role"},
		{"user without content", withMessages(`[{"role":"user"}]`), "messages[0].content"},
		{"user content null", withMessages(`[{"role":"user","content":null}]`), "messages[0].content"},
		{"user content a number", withMessages(`[{"role":"user","content":1}]`), "messages[0].content"},
		{"user content empty array", withMessages(`[{"role":"user","content":[]}]`), "messages[0].content"},
		{"part not an object", withMessages(`[{"role":"user","content":["hi"]}]`), "messages[0].content[0]"},
		{"part without type", withMessages(`[{"role":"user","content":[{"text":"hi"}]}]`), "messages[0].content[0].type"},
		{"unknown part type", withMessages(`[{"role":"user","content":[{"type":"video","text":"hi"}]}]`), "messages[0].content[0].type"},
		{"input_audio", withMessages(`[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA","format":"wav"}}]}]`), "messages[0].content[0].type"},
		{"file", withMessages(`[{"role":"user","content":[{"type":"text","text":"x"},{"type":"file","file":{"file_id":"f"}}]}]`), "messages[0].content[1].type"},
		{"text part without text", withMessages(`[{"role":"user","content":[{"type":"text"}]}]`), "messages[0].content[0].text"},
		{"text part text a number", withMessages(`[{"role":"user","content":[{"type":"text","text":5}]}]`), "messages[0].content[0].text"},
		{"image_url missing", withMessages(`[{"role":"user","content":[{"type":"image_url"}]}]`), "messages[0].content[0].image_url"},
		{"image_url a string", withMessages(`[{"role":"user","content":[{"type":"image_url","image_url":"https://x/y.png"}]}]`), "messages[0].content[0].image_url"},
		{"image url missing", withMessages(`[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]`), "messages[0].content[0].image_url.url"},
		{"image url ftp", image(`"ftp://x/y.png"`), "messages[0].content[0].image_url.url"},
		{"image data URL not base64", image(`"data:image/png,AAAA"`), "messages[0].content[0].image_url.url"},
		{"image data URL without comma", image(`"data:image/png;base64"`), "messages[0].content[0].image_url.url"},
		{"image data URL of text", image(`"data:text/plain;base64,AAAA"`), "messages[0].content[0].image_url.url"},
		{"image data URL empty", image(`"data:image/png;base64,"`), "messages[0].content[0].image_url.url"},
		{"system without content", withMessages(`[{"role":"system"},` + userHi + `]`), "messages[0].content"},
		{"system image part", withMessages(`[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x"}}]},` + userHi + `]`), "messages[0].content[0].type"},
		{"developer content a number", withMessages(`[{"role":"developer","content":2},` + userHi + `]`), "messages[0].content"},
		{"assistant without content or calls", withMessages(`[` + userHi + `,{"role":"assistant"}]`), "messages[1].content"},
		{"assistant content null without calls", withMessages(`[` + userHi + `,{"role":"assistant","content":null}]`), "messages[1].content"},
		{"assistant image part", withMessages(`[` + userHi + `,{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}]`), "messages[1].content[0].type"},
		{"assistant refusal part without refusal", withMessages(`[` + userHi + `,{"role":"assistant","content":[{"type":"refusal"}]}]`), "messages[1].content[0].refusal"},
		{"assistant refusal a number", withMessages(`[` + userHi + `,{"role":"assistant","content":"x","refusal":1}]`), "messages[1].refusal"},
		{"reasoning_content a number", withMessages(`[` + userHi + `,{"role":"assistant","content":"x","reasoning_content":1}]`), "messages[1].reasoning_content"},
		{"reasoning an object", withMessages(`[` + userHi + `,{"role":"assistant","content":"x","reasoning":{}}]`), "messages[1].reasoning"},
		{"tool_calls not an array", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":{}}]`), "messages[1].tool_calls"},
		{"tool call not an object", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[1]}]`), "messages[1].tool_calls[0]"},
		{"tool call without id", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]`), "messages[1].tool_calls[0].id"},
		{"tool call empty id", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"id":"","type":"function","function":{"name":"f","arguments":"{}"}}]}]`), "messages[1].tool_calls[0].id"},
		{"tool call custom type", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"id":"c","type":"custom","custom":{"name":"f","input":"x"}}]}]`), "messages[1].tool_calls[0].type"},
		{"tool call without function", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"id":"c","type":"function"}]}]`), "messages[1].tool_calls[0].function"},
		{"tool call without name", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}]`), "messages[1].tool_calls[0].function.name"},
		{"tool call without arguments", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f"}}]}]`), "messages[1].tool_calls[0].function.arguments"},
		{"tool call arguments an object", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":{}}}]}]`), "messages[1].tool_calls[0].function.arguments"},
		{"tool call arguments invalid JSON", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{\"a\":"}}]}]`), "messages[1].tool_calls[0].function.arguments"},
		{"tool call arguments an array", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1]"}}]}]`), "messages[1].tool_calls[0].function.arguments"},
		{"second tool call broken", withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}},{"id":"b","function":{"name":"f","arguments":"nope"}}]}]`), "messages[1].tool_calls[1].function.arguments"},
		{"function_call without name", withMessages(`[` + userHi + `,{"role":"assistant","function_call":{"arguments":"{}"}}]`), "messages[1].function_call.name"},
		{"function_call arguments invalid", withMessages(`[` + userHi + `,{"role":"assistant","function_call":{"name":"f","arguments":"{"}}]`), "messages[1].function_call.arguments"},
		{"tool without tool_call_id", withMessages(`[` + userHi + `,` + callF + `,{"role":"tool","content":"x"}]`), "messages[2].tool_call_id"},
		{"tool without content", withMessages(`[` + userHi + `,` + callF + `,{"role":"tool","tool_call_id":"c1"}]`), "messages[2].content"},
		{"tool image part", withMessages(`[` + userHi + `,` + callF + `,{"role":"tool","tool_call_id":"c1","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}]`), "messages[2].content[0].type"},
		{"function without name", withMessages(`[` + userHi + `,{"role":"function","content":"x"}]`), "messages[1].name"},
		{"function content a number", withMessages(`[` + userHi + `,{"role":"function","name":"f","content":1}]`), "messages[1].content"},

		{"tools not an array", withFields(`"tools":{}`), "tools"},
		{"tool null", withFields(`"tools":[null]`), "tools[0]"},
		{"tool without type", withFields(`"tools":[{"function":{"name":"f"}}]`), "tools[0].type"},
		{"tool of another type", withFields(`"tools":[{"type":"web_search"}]`), "tools[0].type"},
		{"tool without function", withFields(`"tools":[{"type":"function"}]`), "tools[0].function"},
		{"tool without name", withFields(`"tools":[{"type":"function","function":{}}]`), "tools[0].function.name"},
		{"tool name with a space", withFields(`"tools":[{"type":"function","function":{"name":"get weather"}}]`), "tools[0].function.name"},
		{"tool name too long", withFields(`"tools":[{"type":"function","function":{"name":"` + strings.Repeat("a", 65) + `"}}]`), "tools[0].function.name"},
		{"tool description a number", withFields(`"tools":[{"type":"function","function":{"name":"f","description":1}}]`), "tools[0].function.description"},
		{"tool parameters an array", withFields(`"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]`), "tools[0].function.parameters"},
		{"second tool broken", withFields(`"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":""}}]`), "tools[1].function.name"},
		{"functions not an array", withFields(`"functions":{}`), "functions"},
		{"function definition without name", withFields(`"functions":[{"description":"x"}]`), "functions[0].name"},
		{"tool_choice unknown string", withFields(toolsF + `,"tool_choice":"any"`), "tool_choice"},
		{"tool_choice a number", withFields(toolsF + `,"tool_choice":1`), "tool_choice"},
		{"tool_choice without type", withFields(toolsF + `,"tool_choice":{"function":{"name":"f"}}`), "tool_choice.type"},
		{"tool_choice allowed_tools", withFields(toolsF + `,"tool_choice":{"type":"allowed_tools","allowed_tools":{}}`), "tool_choice.type"},
		{"tool_choice without function", withFields(toolsF + `,"tool_choice":{"type":"function"}`), "tool_choice.function"},
		{"tool_choice without name", withFields(toolsF + `,"tool_choice":{"type":"function","function":{}}`), "tool_choice.function.name"},
		{"tool_choice names an unknown tool", withFields(toolsF + `,"tool_choice":{"type":"function","function":{"name":"g"}}`), "tool_choice.function.name"},
		{"function_call required", withFields(`"functions":[{"name":"f"}],"function_call":"required"`), "function_call"},
		{"function_call names an unknown function", withFields(`"functions":[{"name":"f"}],"function_call":{"name":"g"}`), "function_call.name"},
		{"parallel_tool_calls a string", withFields(toolsF + `,"parallel_tool_calls":"no"`), "parallel_tool_calls"},

		{"max_tokens a string", withFields(`"max_tokens":"100"`), "max_tokens"},
		{"max_tokens fractional", withFields(`"max_tokens":1.5`), "max_tokens"},
		{"max_tokens zero", withFields(`"max_tokens":0`), "max_tokens"},
		{"max_completion_tokens negative", withFields(`"max_completion_tokens":-1`), "max_completion_tokens"},
		{"temperature too high", withFields(`"temperature":2.5`), "temperature"},
		{"temperature negative", withFields(`"temperature":-0.1`), "temperature"},
		{"temperature a string", withFields(`"temperature":"hot"`), "temperature"},
		{"top_p above 1", withFields(`"top_p":1.5`), "top_p"},
		{"top_k fractional", withFields(`"top_k":0.5`), "top_k"},
		{"stop a number", withFields(`"stop":1`), "stop"},
		{"stop array of numbers", withFields(`"stop":[1]`), "stop"},
		{"user a number", withFields(`"user":1`), "user"},
		{"reasoning_effort a number", withFields(`"reasoning_effort":1`), "reasoning_effort"},
		{"stream a string", withFields(`"stream":"true"`), "stream"},
		{"stream_options a string", withFields(`"stream":true,"stream_options":"usage"`), "stream_options"},
		{"include_usage a string", withFields(`"stream":true,"stream_options":{"include_usage":"yes"}`), "stream_options.include_usage"},
		{"n zero", withFields(`"n":0`), "n"},
		{"n too large", withFields(`"n":129`), "n"},
		{"seed fractional", withFields(`"seed":1.5`), "seed"},
		{"presence_penalty too low", withFields(`"presence_penalty":-3`), "presence_penalty"},
		{"frequency_penalty too high", withFields(`"frequency_penalty":2.1`), "frequency_penalty"},
		{"logit_bias an array", withFields(`"logit_bias":[1]`), "logit_bias"},
		{"logit_bias value a string", withFields(`"logit_bias":{"50256":"ban"}`), "logit_bias"},
		{"logit_bias out of range", withFields(`"logit_bias":{"50256":-101}`), "logit_bias"},
		{"logprobs a string", withFields(`"logprobs":"yes"`), "logprobs"},
		{"top_logprobs too large", withFields(`"logprobs":true,"top_logprobs":21`), "top_logprobs"},
		{"top_logprobs without logprobs", withFields(`"top_logprobs":2`), "top_logprobs"},
		{"response_format a string", withFields(`"response_format":"json"`), "response_format"},
		{"response_format without type", withFields(`"response_format":{}`), "response_format.type"},
		{"response_format unknown type", withFields(`"response_format":{"type":"yaml"}`), "response_format.type"},
		{"json_schema missing", withFields(`"response_format":{"type":"json_schema"}`), "response_format.json_schema"},
		{"json_schema without name", withFields(`"response_format":{"type":"json_schema","json_schema":{"schema":{}}}`), "response_format.json_schema.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeChatRequest([]byte(tt.body))
			var re *protocol.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %v (%T), want a *RequestError", err, err)
			}
			if re.Param != tt.wantParam {
				t.Errorf("param %q, want %q (%v)", re.Param, tt.wantParam, err)
			}
			if re.Message == "" {
				t.Error("no message")
			}
		})
	}
}

// What OpenAI-compatible servers accept and modelbar must not refuse.
func TestDecodeChatRequest_Accepts(t *testing.T) {
	for name, body := range map[string]string{
		"unknown fields":                     withFields(`"store":true,"metadata":{"a":"b"},"service_tier":"auto"`),
		"nulls for optional fields":          withFields(`"temperature":null,"tools":null,"tool_choice":null,"stop":null,"max_tokens":null,"stream_options":null`),
		"tool call without type":             withMessages(`[` + userHi + `,{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":""}}]}]`),
		"tool message without a call":        withMessages(`[{"role":"tool","tool_call_id":"x","content":"orphan"}]`),
		"top_k -1 (vLLM's off)":              withFields(`"top_k":-1`),
		"many stop sequences":                withFields(`"stop":["a","b","c","d","e","f"]`),
		"stream_options without stream":      withFields(`"stream_options":{"include_usage":true}`),
		"reasoning_effort none":              withFields(`"reasoning_effort":"none"`),
		"reasoning_effort max":               withFields(`"reasoning_effort":"max"`),
		"reasoning_effort of the future":     withFields(`"reasoning_effort":"ultra"`),
		"uppercase data URL":                 image(`"DATA:IMAGE/PNG;BASE64,AAAA"`),
		"empty assistant content with calls": withMessages(`[` + userHi + `,{"role":"assistant","content":"","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]`),
	} {
		if _, err := DecodeChatRequest([]byte(body)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
