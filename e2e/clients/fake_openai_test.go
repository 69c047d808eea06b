package clients

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// openaiFake serves the OpenAI chat completions API, whole and streamed.
type openaiFake struct {
	rec *recorder
	seq atomic.Int64
}

func (f *openaiFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		writeJSON(w, 200, map[string]any{"object": "list", "data": []any{map[string]any{"id": "fake-gpt", "object": "model", "owned_by": "fake"}}})
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chat/completions"):
		f.chat(w, r)
	default:
		f.rec.add(record{Fake: "openai", Time: time.Now(), Path: r.Method + " " + r.URL.String(), Decision: "404"})
		writeJSON(w, 404, map[string]any{"error": map[string]any{"message": "the fake has no " + r.URL.Path, "type": "invalid_request_error"}})
	}
}

func (f *openaiFake) chat(w http.ResponseWriter, r *http.Request) {
	body, raw, err := readJSON(r)
	rec := record{Fake: "openai", Time: time.Now(), Path: r.URL.Path, Body: raw}
	if err != nil {
		rec.Decision = "400 " + err.Error()
		f.rec.add(rec)
		writeJSON(w, 400, map[string]any{"error": map[string]any{"message": err.Error(), "type": "invalid_request_error"}})
		return
	}
	c := openaiConversation(body)
	rp := decide(c)
	stream, _ := body["stream"].(bool)
	rec.Model, rec.Stream, rec.CaseID, rec.Decision, rec.Tools = c.Model, stream, rp.CaseID, rp.Decision, toolNames(c.Tools)
	f.rec.add(rec)
	id := fmt.Sprintf("chatcmpl-e2e%d", f.seq.Add(1))
	if stream {
		usage := false
		if so, ok := body["stream_options"].(map[string]any); ok {
			usage, _ = so["include_usage"].(bool)
		}
		f.stream(w, id, c.Model, rp, usage)
		return
	}
	msg := map[string]any{"role": "assistant", "content": rp.Text}
	finish := "stop"
	if rp.ToolName != "" {
		msg["tool_calls"] = []any{map[string]any{"id": "call_" + id, "type": "function",
			"function": map[string]any{"name": rp.ToolName, "arguments": jsonString(rp.ToolArgs)}}}
		finish = "tool_calls"
		if rp.Decision == "object" {
			msg["content"] = nil
		}
	}
	writeJSON(w, 200, map[string]any{
		"id": id, "object": "chat.completion", "created": time.Now().Unix(), "model": c.Model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
	})
}

func (f *openaiFake) stream(w http.ResponseWriter, id, model string, rp reply, usage bool) {
	s := newSSE(w)
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	s.event("", chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	if rp.Text != "" && !(rp.ToolName != "" && rp.Decision == "object") {
		for _, p := range pieces(rp.Text) {
			s.event("", chunk(map[string]any{"content": p}, nil))
		}
	}
	finish := "stop"
	if rp.ToolName != "" {
		finish = "tool_calls"
		s.event("", chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": "call_" + id, "type": "function",
			"function": map[string]any{"name": rp.ToolName, "arguments": ""}}}}, nil))
		for _, p := range pieces(jsonString(rp.ToolArgs)) {
			s.event("", chunk(map[string]any{"tool_calls": []any{map[string]any{"index": 0, "function": map[string]any{"arguments": p}}}}, nil))
		}
	}
	s.event("", chunk(map[string]any{}, finish))
	if usage {
		s.event("", map[string]any{"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": model,
			"choices": []any{}, "usage": map[string]any{"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}})
	}
	s.event("", "[DONE]")
}

// openaiConversation reduces a chat completions request to the script's
// view.
func openaiConversation(body map[string]any) conversation {
	c := conversation{}
	c.Model, _ = body["model"].(string)
	var ev events
	msgs, _ := body["messages"].([]any)
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		switch mm["role"] {
		case "user":
			ev.user(textOf(mm["content"]))
		case "tool":
			ev.toolResult()
		}
	}
	ev.fill(&c)
	tools, _ := body["tools"].([]any)
	for _, t := range tools {
		tm, _ := t.(map[string]any)
		fn, _ := tm["function"].(map[string]any)
		name, _ := fn["name"].(string)
		params, _ := fn["parameters"].(map[string]any)
		c.Tools = append(c.Tools, tool{Name: name, Schema: params})
	}
	switch tc := body["tool_choice"].(type) {
	case map[string]any:
		if fn, ok := tc["function"].(map[string]any); ok {
			c.ForcedTool, _ = fn["name"].(string)
		}
	case string:
		c.AnyTool = tc == "required"
	}
	if rf, ok := body["response_format"].(map[string]any); ok {
		switch rf["type"] {
		case "json_schema":
			js, _ := rf["json_schema"].(map[string]any)
			c.JSONSchema, _ = js["schema"].(map[string]any)
			if c.JSONSchema == nil {
				c.JSONObject = true
			}
		case "json_object":
			c.JSONObject = true
		}
	}
	return c
}
