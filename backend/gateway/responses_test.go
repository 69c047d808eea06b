package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const responsesBody = `{"model":"gpt-x","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"patch it"}]}],` +
	`"instructions":"be brief","tools":[{"type":"function","name":"shell","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}}},` +
	`{"type":"custom","name":"apply_patch","description":"edit files"},{"type":"web_search"}],"store":false,"include":["reasoning.encrypted_content"]}`

// A provider with the Responses API gets the client's request byte for
// byte, only the model rewritten, and the client its answer as sent.
func TestResponses_PassThroughIsByteFaithful(t *testing.T) {
	h := newHarness(t)
	answer := `{"id":"resp_1","object":"response","status":"completed","output":[],"odd_field":1}`
	up := newFake(t, reply(http.StatusOK, answer))
	h.putProvider("oa", up.baseURL(), "sk-000000")
	h.addRoute(map[string]any{"model_pattern": "gpt-x", "backend": "oa", "backend_model": "gpt-real", "fallbacks": []string{}})
	resp, body := h.post("/v1/responses?x=1", responsesBody)
	if resp.StatusCode != http.StatusOK || string(body) != answer {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	got := up.only(t)
	want := strings.Replace(responsesBody, `"model":"gpt-x"`, `"model":"gpt-real"`, 1)
	if got.Path != "/v1/responses" || got.Query != "x=1" || string(got.Body) != want {
		t.Errorf("provider got %s?%s %s\nwant %s", got.Path, got.Query, got.Body, want)
	}
	if resp.Header.Get("X-Modelbar-Backend") != "oa" {
		t.Errorf("X-Modelbar-Backend = %q", resp.Header.Get("X-Modelbar-Backend"))
	}
}

// responses "auto": a 404 for /responses is learned, and the call is
// translated to chat completions; the next call goes there directly.
func TestResponses_AutoLearnsChatOnly(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/responses") {
			reply(http.StatusNotFound, `{"error":{"message":"Not Found"}}`)(w, r)
			return
		}
		okChat("hello")(w, r)
	})
	h.putProvider("oa", up.baseURL(), "")
	h.route("gpt-x", "oa")
	for i, want := range []int{2, 3} {
		resp, body := h.post("/v1/responses", `{"model":"gpt-x","input":"hi","store":false}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d: status %d: %s", i, resp.StatusCode, body)
		}
		var r struct {
			Object string `json:"object"`
			Status string `json:"status"`
			Output []struct {
				Type    string                  `json:"type"`
				Content []struct{ Text string } `json:"content"`
			} `json:"output"`
		}
		decode(t, body, &r)
		if r.Object != "response" || r.Status != "completed" || len(r.Output) != 1 || r.Output[0].Content[0].Text != "hello" {
			t.Errorf("call %d: %s", i, body)
		}
		if n := len(up.requests()); n != want {
			t.Errorf("call %d: provider saw %d requests in all, want %d", i, n, want)
		}
		if d := resp.Header.Get("X-Modelbar-Dropped"); d != "" { // store is honoured (not kept), not dropped
			t.Errorf("call %d: X-Modelbar-Dropped = %q, want none", i, d)
		}
	}
	if p := up.requests()[2].Path; p != "/v1/chat/completions" {
		t.Errorf("second call went to %s", p)
	}
}

// responses "no" translates at once; a function tool call comes back as a
// function_call item, in a stream whose deltas add up to the done values.
func TestResponses_ChatProviderStreamsFunctionCall(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, sse(
		"data: "+`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"shell","arguments":""}}]}}]}`+"\n\n",
		"data: "+`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"cmd\":"}}]}}]}`+"\n\n",
		"data: "+`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"ls\"}"}}]}}]}`+"\n\n",
		"data: "+`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}`+"\n\n",
		done))
	h.putProvider("oa", up.baseURL(), "")
	h.mustAdmin(http.MethodPut, "/api/providers/oa", map[string]any{"responses": "no"}, http.StatusOK)
	h.route("gpt-x", "oa")
	resp, body := h.post("/v1/responses", strings.Replace(responsesBody, `"store"`, `"stream":true,"store"`, 1))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	got := up.only(t)
	var sent struct {
		Tools []struct{ Function struct{ Name string } }
	}
	decode(t, got.Body, &sent)
	if got.Path != "/v1/chat/completions" || len(sent.Tools) != 2 || sent.Tools[1].Function.Name != "apply_patch" {
		t.Errorf("provider got %s %s", got.Path, got.Body)
	}
	if d := resp.Header.Get("X-Modelbar-Dropped"); d != "tools.web_search" {
		t.Errorf("X-Modelbar-Dropped = %q", d)
	}
	evs := parseResponsesStream(t, body)
	names := eventNames(evs)
	want := "response.created response.in_progress response.output_item.added response.function_call_arguments.delta " +
		"response.function_call_arguments.delta response.function_call_arguments.done response.output_item.done response.completed"
	if names != want {
		t.Errorf("events:\n%s\nwant\n%s", names, want)
	}
	var args string
	for _, ev := range evs {
		if ev["type"] == "response.function_call_arguments.delta" {
			args += ev["delta"].(string)
		}
	}
	done := evs[len(evs)-1]["response"].(map[string]any)["output"].([]any)[0].(map[string]any)
	if done["type"] != "function_call" || done["arguments"] != args || args != `{"cmd":"ls"}` || done["call_id"] != "call_1" {
		t.Errorf("item %v, deltas %q", done, args)
	}
}

// An Anthropic provider's tool call of a custom tool comes back as a
// custom_tool_call with the free-form input; its signed thinking travels
// in encrypted_content and reaches the provider again on the next turn.
func TestResponses_AnthropicCustomToolRoundTrip(t *testing.T) {
	h := newHarness(t)
	anth := newFake(t, reply(http.StatusOK, `{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[`+
		`{"type":"thinking","thinking":"plan","signature":"SIG"},`+
		`{"type":"tool_use","id":"toolu_1","name":"apply_patch","input":{"input":"*** Begin Patch"}}],`+
		`"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":2,"cache_read_input_tokens":4}}`))
	h.putAnthropicProvider("anth", anth.srv.URL, "sk-ant-000000")
	h.route("gpt-x", "anth")
	resp, body := h.post("/v1/responses", responsesBody)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var r struct {
		Output []map[string]any
		Usage  struct {
			InputTokens        int `json:"input_tokens"`
			InputTokensDetails struct {
				CachedTokens int `json:"cached_tokens"`
			} `json:"input_tokens_details"`
		}
	}
	decode(t, body, &r)
	if len(r.Output) != 2 || r.Output[0]["type"] != "reasoning" || r.Output[1]["type"] != "custom_tool_call" ||
		r.Output[1]["input"] != "*** Begin Patch" || r.Output[1]["name"] != "apply_patch" || r.Usage.InputTokens != 7 || r.Usage.InputTokensDetails.CachedTokens != 4 {
		t.Fatalf("answer %s", body)
	}
	enc, _ := r.Output[0]["encrypted_content"].(string)
	// The next turn, as Codex sends it: the whole history.
	next, _ := json.Marshal(map[string]any{"model": "gpt-x", "tools": json.RawMessage(`[{"type":"custom","name":"apply_patch"}]`),
		"input": []any{
			map[string]any{"type": "message", "role": "user", "content": "patch it"},
			map[string]any{"type": "reasoning", "summary": []any{map[string]any{"type": "summary_text", "text": "plan"}}, "encrypted_content": enc},
			map[string]any{"type": "custom_tool_call", "call_id": "toolu_1", "name": "apply_patch", "input": "*** Begin Patch"},
			map[string]any{"type": "custom_tool_call_output", "call_id": "toolu_1", "output": "Done"},
		}})
	if resp, body := h.post("/v1/responses", string(next)); resp.StatusCode != http.StatusOK {
		t.Fatalf("second turn: status %d: %s", resp.StatusCode, body)
	}
	sent := string(anth.requests()[1].Body)
	for _, want := range []string{`{"type":"thinking","thinking":"plan","signature":"SIG"}`,
		`{"type":"tool_use","id":"toolu_1","name":"apply_patch","input":{"input":"*** Begin Patch"}}`, `"tool_use_id":"toolu_1"`} {
		if !strings.Contains(sent, want) {
			t.Errorf("second request lacks %s:\n%s", want, sent)
		}
	}
}

// previous_response_id cannot be translated: modelbar stores no responses.
func TestResponses_PreviousResponseIDIsRefusedWhenTranslated(t *testing.T) {
	h := newHarness(t)
	anth := newFake(t, reply(http.StatusOK, anthropicOK))
	h.putAnthropicProvider("anth", anth.srv.URL, "sk-ant-000000")
	h.route("gpt-x", "anth")
	resp, body := h.post("/v1/responses", `{"model":"gpt-x","input":"hi","previous_response_id":"resp_1"}`)
	if e := mustOpenAIError(t, body); resp.StatusCode != http.StatusBadRequest || deref(e.Param) != "previous_response_id" {
		t.Errorf("status %d: %s", resp.StatusCode, body)
	}
	if len(anth.requests()) != 0 {
		t.Error("the provider was called")
	}
}

func parseResponsesStream(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, block := range strings.Split(strings.TrimSpace(string(body)), "\n\n") {
		for _, line := range strings.Split(block, "\n") {
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var ev map[string]any
				if err := json.Unmarshal([]byte(data), &ev); err != nil {
					t.Fatalf("event %q: %v", data, err)
				}
				if int(ev["sequence_number"].(float64)) != len(out) {
					t.Errorf("event %d has sequence_number %v", len(out), ev["sequence_number"])
				}
				out = append(out, ev)
			}
		}
	}
	return out
}

func eventNames(evs []map[string]any) string {
	var names []string
	for _, ev := range evs {
		names = append(names, ev["type"].(string))
	}
	return strings.Join(names, " ")
}

// A stream that breaks, ends early or reports an error after its first
// content ends with response.failed, never response.completed.
func TestResponses_MidStreamFailureEndsFailed(t *testing.T) {
	for _, kind := range wireKinds {
		for _, model := range brokenStreams {
			t.Run(string(kind)+"/"+model, func(t *testing.T) {
				e := newSDKEnv(t, kind)
				if kind == wireOpenAI {
					e.h.mustAdmin(http.MethodPut, "/api/providers/"+e.backend, map[string]any{"responses": "no"}, http.StatusOK)
				}
				resp, body := e.h.post("/v1/responses", `{"model":"`+model+`","stream":true,"input":"`+textQuestion+`"}`)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				evs := parseResponsesStream(t, body)
				names := eventNames(evs)
				if strings.Contains(names, "response.completed") || !strings.HasSuffix(names, "response.failed") {
					t.Errorf("events: %s", names)
				}
			})
		}
	}
}

// A relayed stream reaches the client byte for byte.
func TestResponses_PassThroughStreamIsByteFaithful(t *testing.T) {
	h := newHarness(t)
	stream := "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\"}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"delta\":\"hi\",\"new_field\":true}\n\n" +
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_1\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n"
	up := newFake(t, sse(stream))
	h.putProvider("oa", up.baseURL(), "")
	h.mustAdmin(http.MethodPut, "/api/providers/oa", map[string]any{"responses": "yes"}, http.StatusOK)
	h.route("gpt-x", "oa")
	resp, body := h.post("/v1/responses", `{"model":"gpt-x","stream":true,"input":"hi","previous_response_id":"resp_0"}`)
	if resp.StatusCode != http.StatusOK || string(body) != stream {
		t.Errorf("status %d, body\n%s\nwant\n%s", resp.StatusCode, body, stream)
	}
	if got := up.only(t); got.Path != "/v1/responses" || !strings.Contains(string(got.Body), `"previous_response_id":"resp_0"`) {
		t.Errorf("provider got %s %s", got.Path, got.Body)
	}
}

// "auto" learns from a 405 too, but not from a 404 that is about the
// model (OpenAI's model_not_found), and "yes" never translates.
func TestResponses_AutoLearnsOnlyAMissingEndpoint(t *testing.T) {
	cases := []struct {
		name, mode string
		status     int
		body       string
		translated bool
	}{
		{"405", "auto", http.StatusMethodNotAllowed, `{"error":{"message":"Method Not Allowed"}}`, true},
		{"unknown model", "auto", http.StatusNotFound, `{"error":{"message":"The model gpt-x does not exist","code":"model_not_found"}}`, false},
		{"yes", "yes", http.StatusNotFound, `{"error":{"message":"Not Found"}}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/responses") {
					reply(c.status, c.body)(w, r)
					return
				}
				okChat("hello")(w, r)
			})
			h.putProvider("oa", up.baseURL(), "")
			h.mustAdmin(http.MethodPut, "/api/providers/oa", map[string]any{"responses": c.mode}, http.StatusOK)
			h.route("gpt-x", "oa")
			resp, body := h.post("/v1/responses", `{"model":"gpt-x","input":"hi"}`)
			if got := resp.StatusCode == http.StatusOK; got != c.translated {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
			if !c.translated && resp.StatusCode != c.status {
				t.Errorf("status %d, want the provider's %d", resp.StatusCode, c.status)
			}
		})
	}
}

func TestResponses_ProviderSettingIsValidated(t *testing.T) {
	h := newHarness(t)
	h.putProvider("oa", "http://127.0.0.1:1/v1", "")
	resp, body := h.admin(http.MethodPut, "/api/providers/oa", map[string]any{"responses": "maybe"})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "responses") {
		t.Errorf("status %d: %s", resp.StatusCode, body)
	}
	var p struct{ Responses string }
	decode(t, h.mustAdmin(http.MethodGet, "/api/providers/oa", nil, http.StatusOK), &p)
	if p.Responses != "auto" {
		t.Errorf("responses = %q, want auto", p.Responses)
	}
}

// What "auto" learnt is forgotten when the provider's settings change.
func TestResponses_AutoRelearnsAfterAChange(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/responses") {
			reply(http.StatusNotFound, `{"error":{"message":"Not Found"}}`)(w, r)
			return
		}
		okChat("hello")(w, r)
	})
	h.putProvider("oa", up.baseURL(), "")
	h.route("gpt-x", "oa")
	paths := func() (out []string) {
		for _, r := range up.requests() {
			out = append(out, r.Path)
		}
		return out
	}
	h.post("/v1/responses", `{"model":"gpt-x","input":"hi"}`)
	h.post("/v1/responses", `{"model":"gpt-x","input":"hi"}`)
	h.putProvider("oa", up.baseURL(), "sk-new-000000")
	h.post("/v1/responses", `{"model":"gpt-x","input":"hi"}`)
	want := "/v1/responses /v1/chat/completions /v1/chat/completions /v1/responses /v1/chat/completions"
	if got := strings.Join(paths(), " "); got != want {
		t.Errorf("provider saw %s\nwant %s", got, want)
	}
}
