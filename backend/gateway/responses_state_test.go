package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// chatOnly is a harness with a chat-only OpenAI-API provider "oa" (its
// responses setting no) behind model gpt-x, answering with answer.
func chatOnly(t *testing.T, respond http.HandlerFunc) (*harness, *fakeProvider) {
	h := newHarness(t)
	up := newFake(t, respond)
	h.putProvider("oa", up.baseURL(), "")
	h.mustAdmin(http.MethodPut, "/api/providers/oa", map[string]any{"responses": "no"}, http.StatusOK)
	h.route("gpt-x", "oa")
	return h, up
}

// createResponse posts a Responses request and returns the response's id,
// once the gateway has finished with it (stored it, if it does).
func createResponse(t *testing.T, h *harness, body string) string {
	t.Helper()
	resp, b := h.post("/v1/responses", body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create: status %d: %s", resp.StatusCode, b)
	}
	h.settle()
	if d := resp.Header.Get("X-Modelbar-Dropped"); strings.Contains(d, "store") {
		t.Errorf("X-Modelbar-Dropped = %q: store is honoured, not dropped", d)
	}
	var r struct{ ID string }
	decode(t, b, &r)
	if !strings.HasPrefix(r.ID, "resp_") {
		t.Fatalf("response id %q", r.ID)
	}
	return r.ID
}

func (h *harness) get(path string) (*http.Response, []byte) {
	h.t.Helper()
	return h.do(h.request(http.MethodGet, path, nil))
}

type inputItems struct {
	Object  string
	Data    []json.RawMessage
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
	HasMore bool    `json:"has_more"`
}

// itemTexts are the items as "role: text" (or their type).
func itemTexts(t *testing.T, items []json.RawMessage) []string {
	var out []string
	for _, raw := range items {
		var it struct {
			ID, Type, Role string
			Content        []struct{ Type, Text string }
		}
		decode(t, raw, &it)
		if it.ID == "" {
			t.Errorf("item without id: %s", raw)
		}
		s := it.Type
		if it.Type == "message" && len(it.Content) == 1 {
			s = it.Role + ": " + it.Content[0].Text
		}
		out = append(out, s)
	}
	return out
}

func TestResponsesState_StoreGetInputItemsDelete(t *testing.T) {
	h, _ := chatOnly(t, okChat("hello"))
	id := createResponse(t, h, `{"model":"gpt-x","input":"hi"}`)

	resp, b := h.get("/v1/responses/" + id)
	var r struct {
		ID, Object, Status string
		Output             []json.RawMessage
	}
	decode(t, b, &r)
	if resp.StatusCode != http.StatusOK || r.ID != id || r.Object != "response" || r.Status != "completed" {
		t.Fatalf("GET: status %d: %s", resp.StatusCode, b)
	}
	if diff := cmp.Diff([]string{"assistant: hello"}, itemTexts(t, r.Output)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	resp, b = h.get("/v1/responses/" + id + "/input_items")
	var items inputItems
	decode(t, b, &items)
	if resp.StatusCode != http.StatusOK || items.Object != "list" || items.HasMore || deref(items.FirstID) != deref(items.LastID) {
		t.Fatalf("input_items: status %d: %s", resp.StatusCode, b)
	}
	if diff := cmp.Diff([]string{"user: hi"}, itemTexts(t, items.Data)); diff != "" {
		t.Errorf("input items (-want +got):\n%s", diff)
	}

	resp, b = h.do(h.request(http.MethodDelete, "/v1/responses/"+id, nil))
	var del map[string]any
	decode(t, b, &del)
	if diff := cmp.Diff(map[string]any{"id": id, "object": "response", "deleted": true}, del); resp.StatusCode != http.StatusOK || diff != "" {
		t.Errorf("DELETE: status %d (-want +got):\n%s", resp.StatusCode, diff)
	}
	for _, req := range []*http.Request{
		h.request(http.MethodGet, "/v1/responses/"+id, nil),
		h.request(http.MethodGet, "/v1/responses/"+id+"/input_items", nil),
		h.request(http.MethodDelete, "/v1/responses/"+id, nil),
	} {
		resp, b := h.do(req)
		e := mustOpenAIError(t, b)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(e.Message, id) || !strings.Contains(e.Message, "not found") {
			t.Errorf("%s %s after DELETE: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, b)
		}
	}
}

// A streamed answer is stored as its response.completed carries it.
func TestResponsesState_StreamIsStored(t *testing.T) {
	h, _ := chatOnly(t, sse(chunk("hel"), chunk("lo"), done))
	resp, b := h.post("/v1/responses", `{"model":"gpt-x","input":"hi","stream":true}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	h.settle()
	i := strings.Index(string(b), `"id":"resp_`)
	if i < 0 {
		t.Fatalf("no response id in the stream: %s", b)
	}
	id := strings.SplitN(string(b[i+6:]), `"`, 2)[0]
	resp, b = h.get("/v1/responses/" + id)
	var r struct {
		Status string
		Output []json.RawMessage
	}
	decode(t, b, &r)
	if resp.StatusCode != http.StatusOK || r.Status != "completed" {
		t.Fatalf("GET: status %d: %s", resp.StatusCode, b)
	}
	if diff := cmp.Diff([]string{"assistant: hello"}, itemTexts(t, r.Output)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// store: false, responses_store off and a relayed answer are not kept.
func TestResponsesState_NotStored(t *testing.T) {
	t.Run("store false", func(t *testing.T) {
		h, _ := chatOnly(t, okChat("hello"))
		id := createResponse(t, h, `{"model":"gpt-x","input":"hi","store":false}`)
		if resp, b := h.get("/v1/responses/" + id); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET: status %d: %s", resp.StatusCode, b)
		}
	})
	t.Run("responses_store off", func(t *testing.T) {
		h, _ := chatOnly(t, okChat("hello"))
		var st map[string]any
		decode(t, h.mustAdmin(http.MethodGet, "/api/settings", nil, http.StatusOK), &st)
		if st["responses_store"] != true || st["responses_retention_days"] != 30.0 {
			t.Errorf("default settings: responses_store %v, responses_retention_days %v", st["responses_store"], st["responses_retention_days"])
		}
		h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"responses_store": false}, http.StatusOK)
		id := createResponse(t, h, `{"model":"gpt-x","input":"hi"}`)
		if resp, b := h.get("/v1/responses/" + id); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET: status %d: %s", resp.StatusCode, b)
		}
	})
	t.Run("relayed", func(t *testing.T) {
		h := newHarness(t)
		up := newFake(t, reply(http.StatusOK, `{"id":"resp_up","object":"response","status":"completed","output":[]}`))
		h.putProvider("oa", up.baseURL(), "")
		h.route("gpt-x", "oa")
		createResponse(t, h, `{"model":"gpt-x","input":"hi"}`)
		if resp, b := h.get("/v1/responses/resp_up"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET: status %d: %s", resp.StatusCode, b)
		}
	})
}

// previous_response_id continues a stored conversation: the backend sees
// the earlier turns, and the new response's input items include them.
func TestResponsesState_PreviousResponseID(t *testing.T) {
	h, up := chatOnly(t, okChat("hello"))
	first := createResponse(t, h, `{"model":"gpt-x","input":"hi","instructions":"be brief"}`)
	second := createResponse(t, h, `{"model":"gpt-x","input":[{"role":"user","content":"and then?"}],"previous_response_id":"`+first+`"}`)

	var sent struct {
		Messages []struct{ Role, Content string }
	}
	decode(t, up.requests()[1].Body, &sent)
	var got []string
	for _, m := range sent.Messages {
		got = append(got, m.Role+": "+m.Content)
	}
	// Instructions are not carried over, as the API does not carry them.
	if diff := cmp.Diff([]string{"user: hi", "assistant: hello", "user: and then?"}, got); diff != "" {
		t.Errorf("backend's messages (-want +got):\n%s", diff)
	}

	_, b := h.get("/v1/responses/" + second + "/input_items")
	var items inputItems
	decode(t, b, &items)
	if diff := cmp.Diff([]string{"user: and then?", "assistant: hello", "user: hi"}, itemTexts(t, items.Data)); diff != "" {
		t.Errorf("input items, newest first (-want +got):\n%s", diff)
	}
	// Paged oldest first, one at a time.
	var paged []json.RawMessage
	for after := ""; ; {
		_, b := h.get("/v1/responses/" + second + "/input_items?order=asc&limit=1&after=" + after)
		var page inputItems
		decode(t, b, &page)
		if len(page.Data) != 1 {
			t.Fatalf("page: %s", b)
		}
		paged = append(paged, page.Data...)
		if !page.HasMore {
			break
		}
		after = deref(page.LastID)
	}
	if diff := cmp.Diff([]string{"user: hi", "assistant: hello", "user: and then?"}, itemTexts(t, paged)); diff != "" {
		t.Errorf("paged input items (-want +got):\n%s", diff)
	}
	third := createResponse(t, h, `{"model":"gpt-x","input":"more","previous_response_id":"`+second+`"}`)
	decode(t, up.requests()[2].Body, &sent)
	if len(sent.Messages) != 5 || third == second {
		t.Errorf("third turn sent %d messages, want 5", len(sent.Messages))
	}
}

func TestResponsesState_UnknownID(t *testing.T) {
	h, up := chatOnly(t, okChat("hello"))
	resp, b := h.post("/v1/responses", `{"model":"gpt-x","input":"hi","previous_response_id":"resp_nope"}`)
	e := mustOpenAIError(t, b)
	if resp.StatusCode != http.StatusBadRequest || deref(e.Param) != "previous_response_id" || !strings.Contains(e.Message, "resp_nope") {
		t.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("provider saw %d requests", n)
	}
	if resp, b := h.get("/v1/responses/resp_nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET: status %d: %s", resp.StatusCode, b)
	}
}

// On pass-through previous_response_id is the provider's: relayed as is.
func TestResponsesState_PreviousIDRelayed(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, reply(http.StatusOK, `{"id":"resp_2","object":"response","status":"completed","output":[]}`))
	h.putProvider("oa", up.baseURL(), "")
	h.route("gpt-x", "oa")
	body := `{"model":"gpt-x","input":"hi","previous_response_id":"resp_up"}`
	if resp, b := h.post("/v1/responses", body); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if got := up.only(t); string(got.Body) != body {
		t.Errorf("provider got %s", got.Body)
	}
}

func TestResponsesState_InputTokens(t *testing.T) {
	t.Run("relayed", func(t *testing.T) {
		h := newHarness(t)
		up := newFake(t, reply(http.StatusOK, `{"object":"response.input_tokens","input_tokens":42}`))
		h.putProvider("oa", up.baseURL(), "")
		h.addRoute(map[string]any{"model_pattern": "gpt-x", "backend": "oa", "backend_model": "gpt-real", "fallbacks": []string{}})
		resp, b := h.post("/v1/responses/input_tokens", `{"model":"gpt-x","input":"hi"}`)
		if resp.StatusCode != http.StatusOK || string(b) != `{"object":"response.input_tokens","input_tokens":42}` || resp.Header.Get("X-Modelbar-Estimate") != "" {
			t.Errorf("status %d %v: %s", resp.StatusCode, resp.Header, b)
		}
		if got := up.only(t); got.Path != "/v1/responses/input_tokens" || string(got.Body) != `{"model":"gpt-real","input":"hi"}` {
			t.Errorf("provider got %s %s", got.Path, got.Body)
		}
	})
	t.Run("estimated", func(t *testing.T) {
		h, up := chatOnly(t, okChat("hello"))
		first := createResponse(t, h, `{"model":"gpt-x","input":"hi"}`)
		var counts []int
		for _, body := range []string{
			`{"model":"gpt-x","input":"hi"}`,
			`{"model":"gpt-x","input":"hi","previous_response_id":"` + first + `"}`,
			`{"input":"hi"}`,
		} {
			resp, b := h.post("/v1/responses/input_tokens", body)
			var c struct {
				Object      string
				InputTokens int  `json:"input_tokens"`
				Estimated   bool `json:"estimated"`
			}
			decode(t, b, &c)
			if resp.StatusCode != http.StatusOK || c.Object != "response.input_tokens" || c.InputTokens < 1 || !c.Estimated ||
				resp.Header.Get("X-Modelbar-Estimate") != "true" {
				t.Errorf("%s: status %d %v: %s", body, resp.StatusCode, resp.Header, b)
			}
			counts = append(counts, c.InputTokens)
		}
		if counts[1] <= counts[0] {
			t.Errorf("a continued request counts %d, no more than the turn alone (%d)", counts[1], counts[0])
		}
		if n := len(up.requests()); n != 1 {
			t.Errorf("provider saw %d requests, want the one create", n)
		}
		resp, b := h.post("/v1/responses/input_tokens", `{"model":"gpt-x","input":"hi","previous_response_id":"resp_nope"}`)
		if resp.StatusCode != http.StatusBadRequest || deref(mustOpenAIError(t, b).Param) != "previous_response_id" {
			t.Errorf("unknown previous id: status %d: %s", resp.StatusCode, b)
		}
	})
}

func TestResponsesState_Settings(t *testing.T) {
	h := newHarness(t)
	resp, b := h.admin(http.MethodPut, "/api/settings", map[string]any{"responses_retention_days": -1})
	if e := mustOpenAIError(t, b); resp.StatusCode != http.StatusBadRequest || deref(e.Param) != "responses_retention_days" {
		t.Errorf("retention -1: status %d: %s", resp.StatusCode, b)
	}
	var st map[string]any
	decode(t, h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"responses_retention_days": 0, "responses_store": false}, http.StatusOK), &st)
	if st["responses_retention_days"] != 0.0 || st["responses_store"] != false {
		t.Errorf("settings %v", st)
	}
}

// A tool round trip continued by previous_response_id: the stored
// function_call goes back to the backend with its result.
func TestResponsesState_ToolRoundTripContinued(t *testing.T) {
	calls := 0
	h, up := chatOnly(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			reply(http.StatusOK, `{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,`+
				`"tool_calls":[{"id":"call_1","type":"function","function":{"name":"shell","arguments":"{\"cmd\":\"ls\"}"}}]},"finish_reason":"tool_calls"}]}`)(w, r)
			return
		}
		okChat("done")(w, r)
	})
	tools := `"tools":[{"type":"function","name":"shell","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}}}]`
	first := createResponse(t, h, `{"model":"gpt-x","input":"list files",`+tools+`}`)
	createResponse(t, h, `{"model":"gpt-x",`+tools+`,"previous_response_id":"`+first+`","input":[{"type":"function_call_output","call_id":"call_1","output":"a.txt"}]}`)
	var sent struct {
		Messages []struct {
			Role       string
			ToolCallID string `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string
				Function struct{ Name, Arguments string }
			} `json:"tool_calls"`
		}
	}
	decode(t, up.requests()[1].Body, &sent)
	var got []string
	for _, m := range sent.Messages {
		s := m.Role
		for _, c := range m.ToolCalls {
			s += " " + c.ID + " " + c.Function.Name + " " + c.Function.Arguments
		}
		if m.ToolCallID != "" {
			s += " " + m.ToolCallID
		}
		got = append(got, s)
	}
	if diff := cmp.Diff([]string{"user", `assistant call_1 shell {"cmd":"ls"}`, "tool call_1"}, got); diff != "" {
		t.Errorf("backend's messages (-want +got):\n%s", diff)
	}
}
