package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/conversations"
	"github.com/modelbar/modelbar/backend/gateway"
)

type conversation struct {
	ID       string            `json:"id"`
	Title    string            `json:"title"`
	Models   []string          `json:"models"`
	Count    int               `json:"message_count"`
	Created  string            `json:"created_at"`
	Updated  string            `json:"updated_at"`
	Messages []json.RawMessage `json:"messages"`
}

func TestConversations_API(t *testing.T) {
	h := newHarness(t)
	es := h.openEvents(t, "?topics=conversations")
	nextChange := func() map[string]string {
		t.Helper()
		ev := es.next()
		var d map[string]string
		if err := json.Unmarshal(ev.Data, &d); err != nil || ev.Topic != "conversations" {
			t.Fatalf("event %s %s: %v", ev.Topic, ev.Data, err)
		}
		return d
	}

	var list []conversation
	decode(t, h.mustAdmin(http.MethodGet, "/api/conversations", nil, http.StatusOK), &list)
	if list == nil || len(list) != 0 {
		t.Fatalf("empty list = %#v, want []", list)
	}

	resp, b := h.admin(http.MethodPost, "/api/conversations", map[string]any{
		"title": "Hello", "models": []string{"gpt-4o"},
		"messages": []map[string]any{{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello", "backend": "openai"}},
	})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d %s", resp.StatusCode, b)
	}
	var c conversation
	decode(t, b, &c)
	if !strings.HasPrefix(c.ID, "conv_") || c.Title != "Hello" || c.Count != 2 || len(c.Messages) != 2 || resp.Header.Get("Location") != "/api/conversations/"+c.ID {
		t.Fatalf("created %+v (Location %q)", c, resp.Header.Get("Location"))
	}
	if d := nextChange(); d["id"] != c.ID || d["action"] != "created" {
		t.Errorf("event %v", d)
	}

	// Rename only: the messages stay.
	var renamed conversation
	decode(t, h.mustAdmin(http.MethodPut, "/api/conversations/"+c.ID, map[string]any{"title": "Renamed"}, http.StatusOK), &renamed)
	if renamed.Title != "Renamed" || renamed.Count != 2 || renamed.Created != c.Created || renamed.Updated < c.Updated {
		t.Errorf("renamed %+v", renamed)
	}
	if d := nextChange(); d["action"] != "updated" {
		t.Errorf("event %v", d)
	}
	// Messages replaced, unknown fields kept as the UI wrote them.
	h.mustAdmin(http.MethodPut, "/api/conversations/"+c.ID, map[string]any{
		"messages": []map[string]any{{"role": "user", "content": "again"}, {"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"id": "t1"}}}, {"role": "tool", "content": "42", "tool_call_id": "t1"}},
	}, http.StatusOK)
	nextChange()
	var got conversation
	decode(t, h.mustAdmin(http.MethodGet, "/api/conversations/"+c.ID, nil, http.StatusOK), &got)
	if got.Title != "Renamed" || got.Count != 3 || !strings.Contains(string(got.Messages[1]), `"tool_calls":[{"id":"t1"}]`) {
		t.Errorf("GET after PUT: %+v", got)
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/conversations", nil, http.StatusOK), &list)
	if len(list) != 1 || list[0].ID != c.ID || list[0].Count != 3 || list[0].Messages != nil || list[0].Models[0] != "gpt-4o" {
		t.Errorf("list %+v", list)
	}

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		param              string
	}{
		{"unknown role", http.MethodPut, "/api/conversations/" + c.ID, map[string]any{"messages": []map[string]any{{"role": "root", "content": "x"}}}, 400, "messages[0].role"},
		{"messages not a list", http.MethodPost, "/api/conversations", map[string]any{"messages": "hi"}, 400, "messages"},
		{"title too long", http.MethodPut, "/api/conversations/" + c.ID, map[string]any{"title": strings.Repeat("x", 201)}, 400, "title"},
		{"too many messages", http.MethodPost, "/api/conversations", map[string]any{"messages": manyMessages(conversations.MaxMessages + 1)}, 400, "messages"},
		{"too many bytes", http.MethodPost, "/api/conversations", map[string]any{"messages": []map[string]any{{"role": "user", "content": strings.Repeat("a", conversations.MaxMessageBytes)}}}, 400, "messages"},
		{"unknown id", http.MethodGet, "/api/conversations/conv_nope", nil, 404, ""},
		{"update unknown id", http.MethodPut, "/api/conversations/conv_nope", map[string]any{"title": "x"}, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := h.admin(tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if e := mustOpenAIError(t, b); deref(e.Param) != tc.param {
				t.Errorf("param %q, want %q (%s)", deref(e.Param), tc.param, e.Message)
			}
		})
	}
	// A refused change left the conversation as it was.
	decode(t, h.mustAdmin(http.MethodGet, "/api/conversations/"+c.ID, nil, http.StatusOK), &got)
	if got.Title != "Renamed" || got.Count != 3 {
		t.Errorf("after refused changes: %+v", got)
	}

	h.mustAdmin(http.MethodDelete, "/api/conversations/"+c.ID, nil, http.StatusNoContent)
	if d := nextChange(); d["id"] != c.ID || d["action"] != "deleted" {
		t.Errorf("event %v", d)
	}
	h.mustAdmin(http.MethodDelete, "/api/conversations/"+c.ID, nil, http.StatusNotFound)
	// The admin API wants its token.
	if resp, _ := h.do(h.request(http.MethodGet, "/api/conversations", nil)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %d", resp.StatusCode)
	}
}

func manyMessages(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"role": "user", "content": "x"}
	}
	return out
}

func TestConversations_WithoutAStore(t *testing.T) {
	h := newHarness(t, func(o *gateway.Options) { o.Conversations = nil })
	resp, b := h.admin(http.MethodGet, "/api/conversations", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(mustOpenAIError(t, b).Message, "keeps no conversations") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}
