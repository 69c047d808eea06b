package clients

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// anthropicFake serves the Anthropic Messages API, whole and streamed,
// and count_tokens.
type anthropicFake struct {
	rec *recorder
	seq atomic.Int64
}

func (f *anthropicFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages":
		f.messages(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages/count_tokens":
		f.rec.add(record{Fake: "anthropic", Time: time.Now(), Path: r.URL.Path, Decision: "count_tokens"})
		writeJSON(w, 200, map[string]any{"input_tokens": 42})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		writeJSON(w, 200, map[string]any{"data": []any{map[string]any{"id": "fake-claude", "type": "model", "display_name": "Fake"}}, "has_more": false})
	default:
		f.rec.add(record{Fake: "anthropic", Time: time.Now(), Path: r.Method + " " + r.URL.String(), Decision: "404"})
		writeJSON(w, 404, map[string]any{"type": "error", "error": map[string]any{"type": "not_found_error", "message": "the fake has no " + r.URL.Path}})
	}
}

func (f *anthropicFake) messages(w http.ResponseWriter, r *http.Request) {
	body, raw, err := readJSON(r)
	rec := record{Fake: "anthropic", Time: time.Now(), Path: r.URL.Path, Body: raw}
	if err != nil {
		rec.Decision = "400 " + err.Error()
		f.rec.add(rec)
		writeJSON(w, 400, map[string]any{"type": "error", "error": map[string]any{"type": "invalid_request_error", "message": err.Error()}})
		return
	}
	c := anthropicConversation(body)
	rp := decide(c)
	stream, _ := body["stream"].(bool)
	rec.Model, rec.Stream, rec.CaseID, rec.Decision, rec.Tools = c.Model, stream, rp.CaseID, rp.Decision, toolNames(c.Tools)
	f.rec.add(rec)
	id := fmt.Sprintf("msg_e2e%d", f.seq.Add(1))
	var content []any
	if rp.Text != "" && !(rp.ToolName != "" && rp.Decision == "object") {
		content = append(content, map[string]any{"type": "text", "text": rp.Text})
	}
	stop := "end_turn"
	if rp.ToolName != "" {
		content = append(content, map[string]any{"type": "tool_use", "id": "toolu_" + id, "name": rp.ToolName, "input": rp.ToolArgs})
		stop = "tool_use"
	}
	usage := map[string]any{"input_tokens": 20, "output_tokens": 10}
	if !stream {
		writeJSON(w, 200, map[string]any{"id": id, "type": "message", "role": "assistant", "model": c.Model,
			"content": content, "stop_reason": stop, "stop_sequence": nil, "usage": usage})
		return
	}
	s := newSSE(w)
	s.event("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": id, "type": "message",
		"role": "assistant", "model": c.Model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 20, "output_tokens": 1}}})
	for i, b := range content {
		bm := b.(map[string]any)
		switch bm["type"] {
		case "text":
			s.event("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "text", "text": ""}})
			for _, p := range pieces(bm["text"].(string)) {
				s.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "text_delta", "text": p}})
			}
		case "tool_use":
			s.event("content_block_start", map[string]any{"type": "content_block_start", "index": i,
				"content_block": map[string]any{"type": "tool_use", "id": bm["id"], "name": bm["name"], "input": map[string]any{}}})
			for _, p := range pieces(jsonString(bm["input"])) {
				s.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "input_json_delta", "partial_json": p}})
			}
		}
		s.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
	}
	s.event("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": 10}})
	s.event("message_stop", map[string]any{"type": "message_stop"})
}

// anthropicConversation reduces a Messages request to the script's view.
func anthropicConversation(body map[string]any) conversation {
	c := conversation{}
	c.Model, _ = body["model"].(string)
	var ev events
	msgs, _ := body["messages"].([]any)
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		if mm["role"] != "user" {
			continue
		}
		if s, ok := mm["content"].(string); ok {
			ev.user(s)
			continue
		}
		blocks, _ := mm["content"].([]any)
		var texts []string
		for _, b := range blocks {
			bm, _ := b.(map[string]any)
			switch bm["type"] {
			case "tool_result":
				ev.toolResult()
			case "text":
				t, _ := bm["text"].(string)
				texts = append(texts, t)
			}
		}
		if len(texts) > 0 {
			ev.user(strings.Join(texts, "\n"))
		}
	}
	ev.fill(&c)
	tools, _ := body["tools"].([]any)
	for _, t := range tools {
		tm, _ := t.(map[string]any)
		name, _ := tm["name"].(string)
		schema, _ := tm["input_schema"].(map[string]any)
		c.Tools = append(c.Tools, tool{Name: name, Schema: schema})
	}
	if tc, ok := body["tool_choice"].(map[string]any); ok {
		switch tc["type"] {
		case "tool":
			c.ForcedTool, _ = tc["name"].(string)
		case "any":
			c.AnyTool = true
		}
	}
	for _, k := range []string{"output_format", "output_config"} {
		of, ok := body[k].(map[string]any)
		if !ok {
			continue
		}
		if f, ok := of["format"].(map[string]any); ok { // output_config.format
			of = f
		}
		if of["type"] == "json_schema" {
			c.JSONSchema, _ = of["schema"].(map[string]any)
		}
	}
	return c
}
