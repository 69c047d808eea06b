package anthropic

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

// decoderFor picks the endpoint by file name: count_tokens* files are
// /v1/messages/count_tokens requests.
func decoderFor(name string) func([]byte) (protocol.Request, error) {
	if strings.HasPrefix(name, "count_tokens") {
		return DecodeCountTokensRequest
	}
	return DecodeMessagesRequest
}

func TestDecodeMessagesRequest_Golden(t *testing.T) {
	for name, path := range inputs(t, "requests", ".json") {
		t.Run(name, func(t *testing.T) {
			req, err := decoderFor(name)(readFile(t, path))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkGolden(t, strings.TrimSuffix(path, ".json")+".golden", render(t, req))
		})
	}
}

// TestRequest_RoundTrip: what an Anthropic client sent reaches an Anthropic
// backend unchanged in meaning.
func TestRequest_RoundTrip(t *testing.T) {
	for name, path := range inputs(t, "requests", ".json") {
		t.Run(name, func(t *testing.T) {
			want, err := decoderFor(name)(readFile(t, path))
			if err != nil {
				t.Fatal(err)
			}
			body, _, err := EncodeMessagesRequest(want, EncodeOptions{DefaultMaxTokens: 4096})
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got, err := DecodeMessagesRequest(body)
			if err != nil {
				t.Fatalf("decode the encoded request: %v\n%s", err, body)
			}
			if want.MaxTokens == 0 { // count_tokens: the default was added
				want.MaxTokens = got.MaxTokens
			}
			if want.Thinking != nil && want.Thinking.BudgetTokens == 0 { // adaptive: sent as a budget
				want.Thinking = &protocol.Thinking{BudgetTokens: protocol.EffortBudget(want.Thinking.Effort)}
			}
			want.Dropped = nil // dropped: not sent
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip changed the request (-want +got):\n%s\n%s", diff, body)
			}
		})
	}
}

// requestErrorCase is a request the API refuses, Param and a part of the
// message it refuses it with.
type requestErrorCase struct{ name, body, param, message string }

// requestErrorCases are also seeds of FuzzDecodeMessagesRequest.
func requestErrorCases() []requestErrorCase {
	const ok = `"model":"m","max_tokens":100`
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	asst := func(content string) string {
		return ok + `,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[` + content + `]},{"role":"user","content":"go"}]`
	}
	user := func(content string) string { return ok + `,"messages":[{"role":"user","content":[` + content + `]}]` }
	tool := func(tool string) string { return ok + "," + msgs + `,"tools":[` + tool + `]` }
	img := func(source string) string { return user(`{"type":"image","source":` + source + `}`) }
	return []requestErrorCase{
		{"empty body", ``, "", "empty"},
		{"not an object", `[1]`, "", "JSON object"},
		{"broken JSON", `{"model":`, "", "not valid JSON"},
		{"model missing", `"max_tokens":1,` + msgs, "model", "is required"},
		{"model empty", `"model":"","max_tokens":1,` + msgs, "model", "must not be empty"},
		{"model a number", `"model":7,"max_tokens":1,` + msgs, "model", "must be a string"},
		{"max_tokens missing", `"model":"m",` + msgs, "max_tokens", "is required"},
		{"max_tokens zero", `"model":"m","max_tokens":0,` + msgs, "max_tokens", "at least 1"},
		{"max_tokens fractional", `"model":"m","max_tokens":1.5,` + msgs, "max_tokens", "integer"},
		{"max_tokens a string", `"model":"m","max_tokens":"100",` + msgs, "max_tokens", "integer"},
		{"messages missing", ok, "messages", "is required"},
		{"messages empty", ok + `,"messages":[]`, "messages", "at least one"},
		{"messages an object", ok + `,"messages":{}`, "messages", "array"},
		{"message not an object", ok + `,"messages":["hi"]`, "messages.0", "object"},
		{"role missing", ok + `,"messages":[{"content":"hi"}]`, "messages.0.role", "is required"},
		{"role unknown", ok + `,"messages":[{"role":"critic","content":"hi"}]`, "messages.0.role", `"user", "assistant" or "system"`},
		{"content missing", ok + `,"messages":[{"role":"user"}]`, "messages.0.content", "is required"},
		{"content a number", ok + `,"messages":[{"role":"user","content":5}]`, "messages.0.content", "string or an array"},
		{"content empty string", ok + `,"messages":[{"role":"user","content":""}]`, "messages.0.content", "must not be empty"},
		{"content empty array", ok + `,"messages":[{"role":"user","content":[]}]`, "messages.0.content", "must not be empty"},
		{"empty assistant not last", ok + `,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":""},{"role":"user","content":"b"}]`, "messages.1.content", "must not be empty"},
		{"only message an empty assistant", ok + `,"messages":[{"role":"assistant","content":""}]`, "messages.0.content", "must not be empty"},
		{"block not an object", user(`"hi"`), "messages.0.content.0", "object"},
		{"block type missing", user(`{"text":"hi"}`), "messages.0.content.0.type", "is required"},
		{"text missing", user(`{"type":"text"}`), "messages.0.content.0.text", "is required"},
		{"text empty", user(`{"type":"text","text":""}`), "messages.0.content.0.text", "non-empty"},
		{"image source missing", user(`{"type":"image"}`), "messages.0.content.0.source", "is required"},
		{"image source type unknown", img(`{"type":"path","path":"/x.png"}`), "messages.0.content.0.source.type", `"base64" or "url"`},
		{"image media type", img(`{"type":"base64","media_type":"image/bmp","data":"Qk0="}`), "messages.0.content.0.source.media_type", "image/jpeg, image/png"},
		{"image media type missing", img(`{"type":"base64","data":"Qk0="}`), "messages.0.content.0.source.media_type", "is required"},
		{"image data missing", img(`{"type":"base64","media_type":"image/png"}`), "messages.0.content.0.source.data", "is required"},
		{"image data empty", img(`{"type":"base64","media_type":"image/png","data":""}`), "messages.0.content.0.source.data", "must not be empty"},
		{"image url missing", img(`{"type":"url"}`), "messages.0.content.0.source.url", "is required"},
		{"image file source", img(`{"type":"file","file_id":"file_011"}`), "messages.0.content.0.source.type", "cannot be translated"},
		{"document", user(`{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}`), "messages.0.content.0.type", "document blocks cannot be translated"},
		{"search result", user(`{"type":"search_result","source":"s","title":"t","content":[]}`), "messages.0.content.0.type", "search_result blocks cannot be translated"},
		{"server tool use", asst(`{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}`), "messages.1.content.0.type", "server_tool_use blocks belong to Anthropic's server tools"},
		{"web search result", asst(`{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]}`), "messages.1.content.0.type", "web_search_tool_result blocks belong"},
		{"tool_use in a user turn", user(`{"type":"tool_use","id":"t","name":"f","input":{}}`), "messages.0.content.0.type", "only appear in assistant messages"},
		{"tool_result in an assistant turn", asst(`{"type":"tool_result","tool_use_id":"t"}`), "messages.1.content.0.type", "only appear in user messages"},
		{"thinking in a user turn", user(`{"type":"thinking","thinking":"x","signature":"s"}`), "messages.0.content.0.type", "only appear in assistant messages"},
		{"tool_use id missing", asst(`{"type":"tool_use","name":"f","input":{}}`), "messages.1.content.0.id", "is required"},
		{"tool_use name empty", asst(`{"type":"tool_use","id":"t","name":"","input":{}}`), "messages.1.content.0.name", "must not be empty"},
		{"tool_use input missing", asst(`{"type":"tool_use","id":"t","name":"f"}`), "messages.1.content.0.input", "is required"},
		{"tool_use input an array", asst(`{"type":"tool_use","id":"t","name":"f","input":[1]}`), "messages.1.content.0.input", "must be an object"},
		{"tool_use input a string", asst(`{"type":"tool_use","id":"t","name":"f","input":"{}"}`), "messages.1.content.0.input", "must be an object"},
		{"tool_result id missing", user(`{"type":"tool_result","content":"x"}`), "messages.0.content.0.tool_use_id", "is required"},
		{"tool_result content a number", user(`{"type":"tool_result","tool_use_id":"t","content":1}`), "messages.0.content.0.content", "string or an array"},
		{"tool_result is_error a string", user(`{"type":"tool_result","tool_use_id":"t","is_error":"yes"}`), "messages.0.content.0.is_error", "true or false"},
		{"tool_result document", user(`{"type":"tool_result","tool_use_id":"t","content":[{"type":"document","source":{}}]}`), "messages.0.content.0.content.0.type", "document blocks cannot be translated"},
		{"tool_result image media type", user(`{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/tiff","data":"x"}}]}`), "messages.0.content.0.content.0.source.media_type", "image/jpeg"},
		{"thinking signature missing", asst(`{"type":"thinking","thinking":"hmm"}`), "messages.1.content.0.signature", "is required"},
		{"thinking text missing", asst(`{"type":"thinking","signature":"s"}`), "messages.1.content.0.thinking", "is required"},
		{"redacted thinking data missing", asst(`{"type":"redacted_thinking"}`), "messages.1.content.0.data", "is required"},
		{"system a number", ok + "," + msgs + `,"system":1`, "system", "string or an array"},
		{"system image block", ok + "," + msgs + `,"system":[{"type":"image","source":{}}]`, "system.0.type", `must be "text"`},
		{"system empty text block", ok + "," + msgs + `,"system":[{"type":"text","text":"a"},{"type":"text","text":""}]`, "system.1.text", "non-empty"},
		{"tools an object", ok + "," + msgs + `,"tools":{}`, "tools", "array"},
		{"tool name missing", tool(`{"input_schema":{"type":"object"}}`), "tools.0.name", "is required"},
		{"tool name with a space", tool(`{"name":"get weather","input_schema":{"type":"object"}}`), "tools.0.name", "must match"},
		{"tool name too long", tool(`{"name":"` + strings.Repeat("a", 129) + `","input_schema":{"type":"object"}}`), "tools.0.name", "must match"},
		{"tool names repeated", tool(`{"name":"f","input_schema":{"type":"object"}},{"name":"f","input_schema":{"type":"object"}}`), "tools.1.name", "unique"},
		{"tool description a number", tool(`{"name":"f","description":1,"input_schema":{"type":"object"}}`), "tools.0.description", "must be a string"},
		{"tool input_schema missing", tool(`{"name":"f"}`), "tools.0.input_schema", "is required"},
		{"tool input_schema a string", tool(`{"name":"f","input_schema":"{}"}`), "tools.0.input_schema", "must be an object"},
		{"tool input_schema type missing", tool(`{"name":"f","input_schema":{"properties":{}}}`), "tools.0.input_schema.type", `must be "object"`},
		{"tool input_schema type array", tool(`{"name":"f","input_schema":{"type":"array"}}`), "tools.0.input_schema.type", `must be "object"`},
		{"tool_choice a string", ok + "," + msgs + `,"tool_choice":"auto"`, "tool_choice", "must be an object"},
		{"tool_choice type missing", ok + "," + msgs + `,"tool_choice":{}`, "tool_choice.type", "is required"},
		{"tool_choice type unknown", ok + "," + msgs + `,"tool_choice":{"type":"required"}`, "tool_choice.type", `"auto", "any", "tool" or "none"`},
		{"tool_choice tool without name", ok + "," + msgs + `,"tool_choice":{"type":"tool"}`, "tool_choice.name", "is required"},
		{"tool_choice parallel a string", ok + "," + msgs + `,"tool_choice":{"type":"auto","disable_parallel_tool_use":"yes"}`, "tool_choice.disable_parallel_tool_use", "true or false"},
		{"temperature above 1", ok + "," + msgs + `,"temperature":1.5`, "temperature", "between 0 and 1"},
		{"temperature negative", ok + "," + msgs + `,"temperature":-0.1`, "temperature", "between 0 and 1"},
		{"temperature a string", ok + "," + msgs + `,"temperature":"0.5"`, "temperature", "must be a number"},
		{"top_p above 1", ok + "," + msgs + `,"top_p":2`, "top_p", "between 0 and 1"},
		{"top_k negative", ok + "," + msgs + `,"top_k":-1`, "top_k", "must not be negative"},
		{"top_k fractional", ok + "," + msgs + `,"top_k":0.5`, "top_k", "integer"},
		{"stop_sequences a string", ok + "," + msgs + `,"stop_sequences":"END"`, "stop_sequences", "array"},
		{"stop_sequence a number", ok + "," + msgs + `,"stop_sequences":["a",1]`, "stop_sequences.1", "must be a string"},
		{"metadata a string", ok + "," + msgs + `,"metadata":"u"`, "metadata", "must be an object"},
		{"metadata user_id a number", ok + "," + msgs + `,"metadata":{"user_id":1}`, "metadata.user_id", "must be a string"},
		{"thinking a bool", ok + "," + msgs + `,"thinking":true`, "thinking", "must be an object"},
		{"thinking type missing", ok + "," + msgs + `,"thinking":{"budget_tokens":2048}`, "thinking.type", "is required"},
		{"output_config a string", ok + "," + msgs + `,"thinking":{"type":"adaptive"},"output_config":"high"`, "output_config", "must be an object"},
		{"stream a string", ok + "," + msgs + `,"stream":"true"`, "stream", "true or false"},
	}
}

// json is the case's body: members without braces get them.
func (c requestErrorCase) json() string {
	if c.body != "" && !strings.HasPrefix(c.body, "[") && !strings.HasPrefix(c.body, "{") {
		return "{" + c.body + "}"
	}
	return c.body
}

func TestDecodeMessagesRequest_Errors(t *testing.T) {
	tests := requestErrorCases()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMessagesRequest([]byte(tt.json()))
			var re *protocol.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v (%T), want a *protocol.RequestError", err, err)
			}
			if re.Param != tt.param || !strings.Contains(re.Message, tt.message) {
				t.Errorf("err = {Param: %q, Message: %q}, want Param %q and a message with %q", re.Param, re.Message, tt.param, tt.message)
			}
			// What only translation cannot carry is flagged, so the gateway
			// can still relay it to an Anthropic provider.
			wantUnsupported := false
			for _, mark := range []string{"cannot be translated", "runs only on an Anthropic provider", "server tools", "blocks belong", "unknown content block type", `"bash_20250124"`} {
				wantUnsupported = wantUnsupported || strings.Contains(tt.message, mark)
			}
			if re.Unsupported != wantUnsupported {
				t.Errorf("Unsupported = %v, want %v", re.Unsupported, wantUnsupported)
			}
		})
	}
}

func TestDecodeCountTokensRequest_MaxTokensNotNeeded(t *testing.T) {
	body := `{"model":"m","max_tokens":"ignored","thinking":{"type":"enabled","budget_tokens":50000},"messages":[{"role":"user","content":"hi"}]}`
	req, err := DecodeCountTokensRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if req.MaxTokens != 0 || req.Thinking == nil || req.Thinking.BudgetTokens != 50000 {
		t.Errorf("MaxTokens = %d, Thinking = %+v", req.MaxTokens, req.Thinking)
	}
	if _, err := DecodeCountTokensRequest([]byte(`{"model":"m","messages":[]}`)); err == nil {
		t.Error("count_tokens accepted an empty messages array")
	}
}

func TestDecodeMessagesRequest_Lenient(t *testing.T) {
	body := `{"model":"m","max_tokens":10,"service_tier":"auto","container":"c","mcp_servers":[],
		"context_management":{},"output_config":{"format":{"type":"json_schema","schema":{}}},
		"messages":[{"role":"user","content":"a","extra":1},{"role":"user","content":[{"type":"text","text":"b","citations":[]}]}]}`
	req, err := DecodeMessagesRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Messages) != 2 {
		t.Errorf("consecutive user turns: got %d messages, want them kept as 2", len(req.Messages))
	}
	if want := []string{"container", "context_management", "mcp_servers", "service_tier"}; !slices.Equal(req.Dropped, want) {
		t.Errorf("Dropped = %v, want %v", req.Dropped, want)
	}
}

// What Claude Code and newer clients send is mapped or dropped and named,
// never refused: only a backend of the client's own API could judge it.
func TestDecodeMessagesRequest_Tolerant(t *testing.T) {
	const head = `"model":"m","max_tokens":4000,"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name     string
		body     string
		thinking *protocol.Thinking
		effort   string
		dropped  []string
	}{
		{"adaptive xhigh", head + `,"thinking":{"type":"adaptive"},"output_config":{"effort":"xhigh"}`, &protocol.Thinking{Adaptive: true, Effort: "xhigh"}, "", nil},
		{"adaptive max", head + `,"thinking":{"type":"adaptive"},"output_config":{"effort":"max"}`, &protocol.Thinking{Adaptive: true, Effort: "max"}, "", nil},
		{"adaptive default", head + `,"thinking":{"type":"adaptive"}`, &protocol.Thinking{Adaptive: true, Effort: "high"}, "", nil},
		{"effort of the future", head + `,"thinking":{"type":"adaptive"},"output_config":{"effort":"extreme"}`, &protocol.Thinking{Adaptive: true, Effort: "high"}, "", []string{"output_config.effort=extreme"}},
		{"effort alone", head + `,"output_config":{"effort":"low"}`, nil, "low", nil},
		{"disabled", head + `,"thinking":{"type":"disabled"},"output_config":{"effort":"medium"}`, nil, "medium", nil},
		{"thinking type of the future", head + `,"thinking":{"type":"on"}`, nil, "", []string{"thinking.type=on"}},
		{"budget missing", head + `,"thinking":{"type":"enabled"}`, &protocol.Thinking{Effort: "medium"}, "", nil},
		{"budget small", head + `,"thinking":{"type":"enabled","budget_tokens":1000}`, &protocol.Thinking{BudgetTokens: 1000}, "", nil},
		{"budget above max_tokens", head + `,"thinking":{"type":"enabled","budget_tokens":8000}`, &protocol.Thinking{BudgetTokens: 8000}, "", nil},
		{"hosted tools", head + `,"tools":[{"name":"f","input_schema":{"type":"object"}},{"type":"web_search_20250305","name":"web_search","max_uses":5},{"type":"bash_20250124","name":"bash"}]`, nil, "", []string{"tool:bash_20250124", "tool:web_search_20250305"}},
		{"hints", head + `,"context_management":{"edits":[{"type":"clear_tool_uses_20250919"}]},"metadata":{"user_id":"u","session":"s"},"output_config":{"task_budget":1},"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}]`,
			nil, "", []string{"cache_control", "context_management", "metadata.session", "output_config.task_budget"}},
		{"block of the future", `"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"video","source":{}},{"type":"text","text":"hi"}]}]`, nil, "", []string{"block:video"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeMessagesRequest([]byte("{" + tt.body + "}"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.thinking, req.Thinking); diff != "" {
				t.Errorf("Thinking (-want +got):\n%s", diff)
			}
			if req.Effort != tt.effort || !slices.Equal(req.Dropped, tt.dropped) {
				t.Errorf("Effort %q, Dropped %v; want %q, %v", req.Effort, req.Dropped, tt.effort, tt.dropped)
			}
		})
	}
}

// A system message inside the conversation (Claude Code's default models
// send one) is kept where it is; one before any turn joins the system
// prompt.
func TestDecodeMessagesRequest_SystemMessages(t *testing.T) {
	body := `{"model":"m","max_tokens":10,"system":"top","messages":[
		{"role":"system","content":"first"},
		{"role":"user","content":"hi"},
		{"role":"system","content":[{"type":"text","text":"mid","cache_control":{"type":"ephemeral"}}]},
		{"role":"assistant","content":"hello"}]}`
	req, err := DecodeMessagesRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	text := func(s string) []protocol.Block { return []protocol.Block{{Type: protocol.BlockText, Text: s}} }
	want := []protocol.Message{{Role: protocol.RoleUser, Content: text("hi")}, {Role: protocol.RoleSystem, Content: text("mid")}, {Role: protocol.RoleAssistant, Content: text("hello")}}
	if diff := cmp.Diff(want, req.Messages); diff != "" {
		t.Errorf("Messages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(append(text("top"), text("first")...), req.System); diff != "" {
		t.Errorf("System (-want +got):\n%s", diff)
	}
}

func TestParseEnvelope(t *testing.T) {
	env, err := ParseEnvelope([]byte(`{"model":"claude-x","stream":true,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}`))
	if err != nil || env != (Envelope{Model: "claude-x", Stream: true}) {
		t.Errorf("ParseEnvelope = %+v, %v", env, err)
	}
	for body, param := range map[string]string{`{"stream":true}`: "model", `{"model":"m","stream":1}`: "stream", `[]`: ""} {
		_, err := ParseEnvelope([]byte(body))
		var re *protocol.RequestError
		if !errors.As(err, &re) || re.Param != param {
			t.Errorf("ParseEnvelope(%s) = %v, want a RequestError for %q", body, err, param)
		}
	}
}

func TestParseEnvelope_Messages(t *testing.T) {
	for body, param := range map[string]string{
		`{"model":"m"}`: "messages", `{"model":"m","messages":{}}`: "messages", `{"model":"m","messages":[ ]}`: "messages",
		`{"model":"m","messages":[{"role":"critic","content":[{"type":"hologram"}]}]}`: "",
	} {
		_, err := ParseEnvelope([]byte(body))
		var re *protocol.RequestError
		switch {
		case param == "" && err != nil:
			t.Errorf("ParseEnvelope(%s) = %v: what messages hold is the provider's to judge", body, err)
		case param != "" && (!errors.As(err, &re) || re.Param != param):
			t.Errorf("ParseEnvelope(%s) = %v, want a RequestError for %q", body, err, param)
		}
	}
}
