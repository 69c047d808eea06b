package gateway_test

// The third fake of the end-to-end matrix: an OpenAI-API provider whose
// models speak only the Responses API (api: "responses"), as
// api.openai.com serves o3-pro or gpt-5-pro. Chat-completions and
// Anthropic clients reach it through the reverse bridge.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// wireResponses is a fake that answers only at /v1/responses.
const wireResponses wireKind = "responses"

// chatWireKinds are the upstreams a chat client (OpenAI or Anthropic SDK)
// is tested against.
var chatWireKinds = []wireKind{wireOpenAI, wireAnthropic, wireResponses}

var responsesRequestKeys = []string{"model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
	"max_output_tokens", "temperature", "top_p", "reasoning", "text", "user", "include", "store", "stream", "metadata"}

// responsesWireRequest is a Responses request as the fake reads it.
type responsesWireRequest struct {
	Model           string  `json:"model"`
	Instructions    string  `json:"instructions"`
	Input           []rItem `json:"input"`
	MaxOutputTokens *int    `json:"max_output_tokens"`
	Stream          bool    `json:"stream"`
	Store           *bool   `json:"store"`
	Tools           []struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      *bool           `json:"strict"`
	} `json:"tools"`
}

type rItem struct {
	Type    string `json:"type"`
	Role    string `json:"role"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	Output    string `json:"output"`
}

// responsesUpstream answers as api.openai.com does at /v1/responses.
func responsesUpstream(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+upstreamOpenAIKey {
		openAIErrorReply(http.StatusUnauthorized, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")(w, r)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/responses" {
		openAIErrorReply(http.StatusNotFound, "This model is only supported in v1/responses and not in v1/chat/completions.", "invalid_request_error", "")(w, r)
		return
	}
	var raw map[string]json.RawMessage
	var req responsesWireRequest
	if !decodeTwice(r, &raw, &req) {
		openAIErrorReply(http.StatusBadRequest, "We could not parse the JSON body of your request.", "invalid_request_error", "")(w, r)
		return
	}
	if k := unknownKey(raw, responsesRequestKeys...); k != "" {
		openAIErrorReply(http.StatusBadRequest, "Unknown parameter: '"+k+"'.", "invalid_request_error", "unknown_parameter")(w, r)
		return
	}
	if req.Store == nil || *req.Store {
		openAIErrorReply(http.StatusBadRequest, "the fake wants store: false (modelbar sends the whole conversation)", "invalid_request_error", "")(w, r)
		return
	}
	switch req.Model {
	case modelBad:
		openAIErrorReply(http.StatusBadRequest, badMessage, "invalid_request_error", "invalid_value")(w, r)
		return
	case modelBusy:
		openAIErrorReply(http.StatusTooManyRequests, busyMessage, "requests", "rate_limit_exceeded", "Retry-After", retryAfter)(w, r)
		return
	case modelCut, modelTrunc, modelError:
		failed := responsesEvent("response.failed", map[string]any{"response": responsesObject(req.Model, "failed", []any{}, nil,
			map[string]any{"code": "server_error", "message": streamFailure})})
		breakStream(w, req.Model, fakeAnswer{text: textFragments}.responsesStream(req.Model)[:5], failed) // created, in_progress, the message, its part, one fragment
		return
	}
	results := false
	for _, it := range req.Input {
		results = results || it.Type == "function_call_output"
	}
	ans, ok := answerFor(req.Model, results)
	if !ok {
		openAIErrorReply(http.StatusNotFound, "The model `"+req.Model+"` does not exist", "invalid_request_error", "model_not_found")(w, r)
		return
	}
	if !req.Stream {
		reply(http.StatusOK, mustJSON(responsesObject(req.Model, "completed", ans.responsesOutput(), ans.usage.responses(), nil)))(w, r)
		return
	}
	sse(ans.responsesStream(req.Model)...)(w, r)
}

func (u wireUsage) responses() map[string]any {
	return map[string]any{"input_tokens": u.In, "input_tokens_details": map[string]any{"cached_tokens": 0},
		"output_tokens": u.Out, "output_tokens_details": map[string]any{"reasoning_tokens": 0}, "total_tokens": u.In + u.Out}
}

func responsesObject(model, status string, output []any, usage, err any) map[string]any {
	return map[string]any{"id": "resp_fake01", "object": "response", "created_at": 1700000000, "status": status,
		"error": err, "incomplete_details": nil, "model": model, "output": output, "usage": usage, "store": false}
}

func (a fakeAnswer) responsesOutput() []any {
	var out []any
	if len(a.text) > 0 {
		out = append(out, map[string]any{"id": "msg_fake01", "type": "message", "status": "completed", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": strings.Join(a.text, ""), "annotations": []any{}}}})
	}
	for _, c := range a.calls {
		out = append(out, map[string]any{"id": "fc_" + c.openaiID, "type": "function_call", "status": "completed",
			"call_id": c.openaiID, "name": "get_weather", "arguments": c.args})
	}
	return out
}

func responsesEvent(typ string, fields map[string]any) string {
	fields["type"] = typ
	return "event: " + typ + "\ndata: " + mustJSON(fields) + "\n\n"
}

// responsesStream is the answer as the Responses API streams it.
func (a fakeAnswer) responsesStream(model string) []string {
	evs := []string{
		responsesEvent("response.created", map[string]any{"response": responsesObject(model, "in_progress", []any{}, nil, nil)}),
		responsesEvent("response.in_progress", map[string]any{"response": responsesObject(model, "in_progress", []any{}, nil, nil)}),
	}
	output := a.responsesOutput()
	for i, it := range output {
		item := it.(map[string]any)
		at := map[string]any{"output_index": i, "item_id": item["id"]}
		with := func(k string, v any) map[string]any {
			m := map[string]any{k: v}
			for k, v := range at {
				m[k] = v
			}
			return m
		}
		switch item["type"] {
		case "message":
			evs = append(evs, responsesEvent("response.output_item.added", map[string]any{"output_index": i,
				"item": map[string]any{"id": item["id"], "type": "message", "status": "in_progress", "role": "assistant", "content": []any{}}}))
			evs = append(evs, responsesEvent("response.content_part.added", with("part", map[string]any{"type": "output_text", "text": ""})))
			for _, f := range a.text {
				evs = append(evs, responsesEvent("response.output_text.delta", with("delta", f)))
			}
			evs = append(evs, responsesEvent("response.output_text.done", with("text", strings.Join(a.text, ""))))
		case "function_call":
			c := a.calls[i-len(output)+len(a.calls)]
			evs = append(evs, responsesEvent("response.output_item.added", map[string]any{"output_index": i,
				"item": map[string]any{"id": item["id"], "type": "function_call", "status": "in_progress", "call_id": c.openaiID, "name": "get_weather", "arguments": ""}}))
			for _, f := range c.fragments {
				evs = append(evs, responsesEvent("response.function_call_arguments.delta", with("delta", f)))
			}
			evs = append(evs, responsesEvent("response.function_call_arguments.done", with("arguments", c.args)))
		}
		evs = append(evs, responsesEvent("response.output_item.done", map[string]any{"output_index": i, "item": item}))
	}
	return append(evs, responsesEvent("response.completed", map[string]any{"response": responsesObject(model, "completed", output, a.usage.responses(), nil)}))
}

// responsesView is what a Responses-API upstream received, in the
// matrix's neutral terms.
func responsesView(t *testing.T, rec received) upstreamView {
	t.Helper()
	var req responsesWireRequest
	decode(t, rec.Body, &req)
	v := upstreamView{Path: rec.Path, Model: req.Model, System: req.Instructions, Stream: req.Stream}
	if req.MaxOutputTokens != nil {
		v.MaxTokens = *req.MaxOutputTokens
	}
	for _, tool := range req.Tools {
		if tool.Type != "function" || tool.Strict == nil || *tool.Strict {
			t.Errorf("tool %q has type %q, strict %v; want function, strict false", tool.Name, tool.Type, tool.Strict)
		}
		v.Tools = append(v.Tools, viewTool{tool.Name, tool.Description, schemaOf(t, tool.Parameters)})
	}
	last := func(role string) *viewTurn {
		if n := len(v.Turns); n > 0 && v.Turns[n-1].Role == role {
			return &v.Turns[n-1]
		}
		v.Turns = append(v.Turns, viewTurn{Role: role})
		return &v.Turns[len(v.Turns)-1]
	}
	for _, it := range req.Input {
		switch it.Type {
		case "message":
			text := ""
			for _, p := range it.Content {
				text += p.Text
			}
			if it.Role == "developer" || it.Role == "system" {
				v.System += text
				continue
			}
			v.Turns = append(v.Turns, viewTurn{Role: it.Role, Text: text})
		case "function_call":
			turn := last("assistant")
			turn.Calls = append(turn.Calls, viewCall{it.CallID, it.Name, compact([]byte(it.Arguments))})
		case "function_call_output":
			turn := last("user")
			turn.Results = append(turn.Results, viewResult{it.CallID, it.Output})
		default:
			t.Errorf("input item of type %q", it.Type)
		}
	}
	return v
}
