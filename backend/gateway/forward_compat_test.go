package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// claudeCodeRequest is the shape of what Claude Code sends with its
// default model (measured 2026-12): a system prompt with cache_control, a
// system message inside the conversation (under the
// mid-conversation-system beta), adaptive thinking at effort "xhigh",
// context_management, and a content block and a field newer than modelbar.
const claudeCodeRequest = `{"model":"MODEL","max_tokens":32000,"stream":true,
"system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],
"messages":[
 {"role":"user","content":[{"type":"text","text":"list the files"}]},
 {"role":"system","content":"<system-reminder>plan mode is off</system-reminder>"},
 {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}]},
 {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"a.go\nb.go"},{"type":"compaction_hint_2027","data":"x"},{"type":"text","text":"thanks","cache_control":{"type":"ephemeral"}}]}
],
"tools":[{"name":"Bash","description":"Run a shell command","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}],
"thinking":{"type":"adaptive"},"output_config":{"effort":"xhigh"},
"context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},
"metadata":{"user_id":"user_abc"},"future_field_2027":{"x":1}}`

const claudeCodeBetas = "claude-code-20250219,mid-conversation-system-2026-04-07,context-management-2025-06-27"

// anthropicSSEText answers a Messages request with a short text stream.
func anthropicSSEText(text string) http.HandlerFunc {
	ev := func(s string) string { return s + "\n\n" }
	return sse(
		ev("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":0}}}"),
		ev("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"),
		ev("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\""+text+"\"}}"),
		ev("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}"),
		ev("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}"),
		ev("event: message_stop\ndata: {\"type\":\"message_stop\"}"),
	)
}

// Claude Code's default request reaches an Anthropic provider byte for
// byte (only the model rewritten), with its beta headers and ?beta=true:
// deciding what is valid is the provider's job.
func TestRelay_ClaudeCodeDefaultsPassThrough(t *testing.T) {
	h := newHarness(t)
	anth := newFake(t, anthropicSSEText("ok"))
	h.putAnthropicProvider("anth", anth.srv.URL, "sk-ant-000000")
	h.addRoute(map[string]any{"model_pattern": "claude-*", "backend": "anth", "backend_model": "claude-opus-4-7"})

	body := strings.Replace(claudeCodeRequest, "MODEL", "claude-opus-4-6", 1)
	resp, got := h.post("/v1/messages?beta=true", body, "anthropic-version", "2023-06-01", "anthropic-beta", claudeCodeBetas,
		"x-app", "cli", "x-stainless-helper-method", "stream")
	if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte("message_stop")) {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	if d := resp.Header.Get("X-Modelbar-Dropped"); d != "" {
		t.Errorf("a relay dropped %q", d)
	}
	up := anth.only(t)
	want := strings.Replace(body, `"claude-opus-4-6"`, `"claude-opus-4-7"`, 1)
	if string(up.Body) != want {
		t.Errorf("the body was changed on the way:\n got %s\nwant %s", up.Body, want)
	}
	if up.Query != "beta=true" || up.Header.Get("Anthropic-Beta") != claudeCodeBetas || up.Header.Get("X-App") != "cli" ||
		up.Header.Get("X-Stainless-Helper-Method") != "stream" {
		t.Errorf("query %q, headers %v", up.Query, up.Header)
	}
}

// The same request translated for an OpenAI-API provider: the system
// message stays where it was, effort maps to reasoning_effort, and the
// hints with no counterpart are left out and named.
func TestTranslate_ClaudeCodeDefaultsToOpenAI(t *testing.T) {
	h := newHarness(t)
	oa := newFake(t, sse(chunk("ok"), done))
	h.putProvider("oa", oa.baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "claude-*", "backend": "oa", "backend_model": "gpt-5"})

	body := strings.Replace(claudeCodeRequest, "MODEL", "claude-opus-4-6", 1)
	resp, got := h.post("/v1/messages?beta=true", body, "anthropic-version", "2023-06-01", "anthropic-beta", claudeCodeBetas)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte("message_stop")) {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	wantDropped := "anthropic-beta, block:compaction_hint_2027, cache_control, context_management, future_field_2027"
	if d := resp.Header.Get("X-Modelbar-Dropped"); d != wantDropped {
		t.Errorf("X-Modelbar-Dropped = %q, want %q", d, wantDropped)
	}
	up := oa.only(t)
	var sent struct {
		Messages []struct {
			Role    string `json:"role"`
			Content any    `json:"content"`
		} `json:"messages"`
		ReasoningEffort string `json:"reasoning_effort"`
		User            string `json:"user"`
	}
	if err := json.Unmarshal(up.Body, &sent); err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range sent.Messages {
		roles = append(roles, m.Role)
	}
	if want := []string{"system", "user", "system", "assistant", "tool", "user"}; !slices.Equal(roles, want) {
		t.Errorf("roles %v, want %v: %s", roles, want, up.Body)
	}
	if sent.ReasoningEffort != "xhigh" || sent.User != "user_abc" {
		t.Errorf("reasoning_effort %q, user %q", sent.ReasoningEffort, sent.User)
	}
	for _, leak := range []string{"context_management", "cache_control", "future_field", "compaction", "anthropic"} {
		if bytes.Contains(up.Body, []byte(leak)) || up.Header.Get("Anthropic-Beta") != "" || up.Query != "" {
			t.Errorf("%q reached the OpenAI provider: %s %v %q", leak, up.Body, up.Header, up.Query)
		}
	}
}

// An OpenAI client's system message inside the conversation goes to an
// Anthropic provider as a system message, under the beta; a provider that
// refuses that role gets the text folded into the user turn instead, and
// from then on without a failed call first.
func TestTranslate_MidConversationSystemToAnthropic(t *testing.T) {
	h := newHarness(t)
	var calls int
	anth := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		var body struct {
			Messages []struct {
				Role string `json:"role"`
			} `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		for _, m := range body.Messages {
			if m.Role == "system" {
				reply(http.StatusBadRequest, `{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.role: Unexpected role \"system\""}}`)(w, r)
				return
			}
		}
		reply(http.StatusOK, anthropicOK)(w, r)
	})
	h.putAnthropicProvider("anth", anth.srv.URL, "sk-ant-000000")
	h.route("claude-*", "anth")

	req := `{"model":"claude-sonnet-4-5","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"},` +
		`{"role":"assistant","content":"hello"},{"role":"developer","content":"now answer in French"},{"role":"user","content":"how are you?"}]}`
	resp, got := h.post("/v1/chat/completions", req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	first, retried := anth.requests()[0], anth.requests()[1]
	if !strings.Contains(first.Header.Get("Anthropic-Beta"), "mid-conversation-system-2026-04-07") ||
		!bytes.Contains(first.Body, []byte(`{"role":"system","content":[{"type":"text","text":"now answer in French"}]}`)) {
		t.Errorf("first try: beta %q, body %s", first.Header.Get("Anthropic-Beta"), first.Body)
	}
	if retried.Header.Get("Anthropic-Beta") != "" ||
		!bytes.Contains(retried.Body, []byte(`{"role":"user","content":[{"type":"text","text":"\u003csystem\u003e\nnow answer in French\n\u003c/system\u003e"},{"type":"text","text":"how are you?"}]}`)) &&
			!bytes.Contains(retried.Body, []byte(`{"role":"user","content":[{"type":"text","text":"<system>\nnow answer in French\n</system>"},{"type":"text","text":"how are you?"}]}`)) {
		t.Errorf("retry: beta %q, body %s", retried.Header.Get("Anthropic-Beta"), retried.Body)
	}
	if !bytes.Contains(retried.Body, []byte(`"system":"be brief"`)) {
		t.Errorf("the leading system message is not the system prompt: %s", retried.Body)
	}
	if resp, got := h.post("/v1/chat/completions", req); resp.StatusCode != http.StatusOK || calls != 3 {
		t.Errorf("second request: status %d after %d calls (want 3: folded at once): %s", resp.StatusCode, calls, got)
	}
}

// Structured output maps both ways between OpenAI's response_format and
// Anthropic's output_config.format.
func TestTranslate_StructuredOutput(t *testing.T) {
	h := newHarness(t)
	anth := newFake(t, reply(http.StatusOK, anthropicOK))
	oa := newFake(t, okChat(`{"n":1}`))
	h.putAnthropicProvider("anth", anth.srv.URL, "sk-ant-000000")
	h.putProvider("oa", oa.baseURL(), "")
	h.route("claude-*", "anth")
	h.route("gpt-*", "oa")
	const schema = `{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"],"additionalProperties":false}`

	resp, got := h.post("/v1/chat/completions", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"count"}],`+
		`"response_format":{"type":"json_schema","json_schema":{"name":"count","strict":true,"schema":`+schema+`}}}`)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(anth.only(t).Body, []byte(`"output_config":{"format":{"type":"json_schema","schema":`+schema+`}}`)) {
		t.Errorf("OpenAI json_schema to Anthropic: %d %s; sent %s", resp.StatusCode, got, anth.only(t).Body)
	}
	resp, got = h.post("/v1/chat/completions", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"count"}],"response_format":{"type":"json_object"}}`)
	if last := anth.requests()[1].Body; resp.StatusCode != http.StatusOK || !bytes.Contains(last, []byte(`"format":{"type":"json_schema","schema":{"type":"object"}}`)) {
		t.Errorf("OpenAI json_object to Anthropic: %d %s; sent %s", resp.StatusCode, got, last)
	}
	resp, got = h.post("/v1/messages", `{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"count"}],`+
		`"output_config":{"format":{"type":"json_schema","schema":`+schema+`}}}`)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(oa.only(t).Body, []byte(`"response_format":{"type":"json_schema","json_schema":{"name":"output","schema":`+schema+`}}`)) {
		t.Errorf("Anthropic output_config.format to OpenAI: %d %s; sent %s", resp.StatusCode, got, oa.only(t).Body)
	}
}

// Only what changes the answer and has no counterpart is refused, naming
// the field; hints are dropped and named.
func TestTranslate_RefusesLittleDropsHints(t *testing.T) {
	h := newHarness(t)
	anth := newFake(t, reply(http.StatusOK, anthropicOK))
	h.putAnthropicProvider("anth", anth.srv.URL, "sk-ant-000000")
	h.route("claude-*", "anth")
	const msgs = `"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name, extra string
		status      int
		refused     string // the field the 400 names
		dropped     string
	}{
		{"n", `"n":2`, 400, "n", ""},
		{"logprobs", `"logprobs":true,"top_logprobs":2`, 400, "logprobs", ""},
		{"audio", `"modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"}`, 400, "audio", ""},
		{"hints", `"store":false,"service_tier":"auto","prompt_cache_key":"k","safety_identifier":"s","metadata":{"a":"b"},"seed":3,"n":1`,
			200, "", "metadata, prompt_cache_key, safety_identifier, seed, service_tier, store"},
		{"hosted web search", `"web_search_options":{}`, 200, "", "web_search_options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(anth.requests())
			resp, got := h.post("/v1/chat/completions", "{"+msgs+","+tt.extra+"}")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, got)
			}
			if tt.refused != "" {
				if e := mustOpenAIError(t, got); deref(e.Param) != tt.refused {
					t.Errorf("param %q, want %q: %s", deref(e.Param), tt.refused, got)
				}
				if len(anth.requests()) != before {
					t.Error("a refused request reached the provider")
				}
				return
			}
			if d := resp.Header.Get("X-Modelbar-Dropped"); d != tt.dropped {
				t.Errorf("X-Modelbar-Dropped = %q, want %q", d, tt.dropped)
			}
		})
	}
}

// Property: whatever unknown fields, roles, values, block types, headers
// and query strings a client adds, a same-API relay carries them to the
// provider unchanged (only the model is rewritten).
func TestRelay_UnknownPartsTravelUntouched(t *testing.T) {
	h := newHarness(t)
	anth := newFake(t, reply(http.StatusOK, anthropicOK))
	oa := newFake(t, okChat("ok"))
	h.putAnthropicProvider("anth", anth.srv.URL, "sk-ant-000000")
	h.putProvider("oa", oa.baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "claude-*", "backend": "anth", "backend_model": "claude-real"})
	h.addRoute(map[string]any{"model_pattern": "gpt-*", "backend": "oa", "backend_model": "gpt-real"})

	rng := rand.New(rand.NewPCG(12, 2026))
	word := func() string {
		const letters = "abcdefghijklmnopqrstuvwxyz_"
		b := make([]byte, 3+rng.IntN(10))
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	value := func() string {
		switch rng.IntN(5) {
		case 0:
			return fmt.Sprintf("%q", word())
		case 1:
			return fmt.Sprint(rng.IntN(1000))
		case 2:
			return `{"` + word() + `":[true,null,1.5]}`
		case 3:
			return `["` + word() + `"]`
		}
		return "false"
	}
	for i := range 40 {
		anthropicAPI := i%2 == 0
		role, block := word(), word()
		msg := `{"role":"` + role + `","content":[{"type":"` + block + `","` + word() + `":` + value() + `}]}`
		body := `{"model":"gpt-x","messages":[{"role":"user","content":"hi"},` + msg + `],"` + word() + `":` + value() + `,"stream":false,"` + word() + `":` + value() + `}`
		path, fake, sentModel := "/v1/chat/completions", oa, `"gpt-real"`
		if anthropicAPI {
			body = strings.Replace(body, "gpt-x", "claude-x", 1)
			path, fake, sentModel = "/v1/messages", anth, `"claude-real"`
		}
		query := word() + "=" + word()
		header := "X-" + word()
		before := len(fake.requests())
		resp, got := h.post(path+"?"+query, body, header, word(), "anthropic-version", "2023-06-01")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", body, resp.StatusCode, got)
		}
		up := fake.requests()[before]
		want := strings.Replace(body, map[bool]string{true: `"claude-x"`, false: `"gpt-x"`}[anthropicAPI], sentModel, 1)
		if string(up.Body) != want || up.Query != query || up.Header.Get(header) == "" {
			t.Fatalf("relayed as body %s query %q header %q; sent body %s query %q header %s", up.Body, up.Query, up.Header.Get(header), body, query, header)
		}
	}
}
