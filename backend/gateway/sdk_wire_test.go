package gateway_test

// What the fake upstreams of sdk_fakes_test.go read from a request, and a
// view of it in neither API's terms, so that one expectation says what every
// client x provider combination must have sent upstream.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// openAIWireRequest is a chat completion request as an OpenAI upstream
// reads it.
type openAIWireRequest struct {
	Model         string              `json:"model"`
	Messages      []openAIWireMessage `json:"messages"`
	Stream        bool                `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int `json:"max_tokens"`
	MaxCompletionTokens *int `json:"max_completion_tokens"`
	Tools               []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
}

type openAIWireMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"` // a string, an array of parts, or null
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// anthropicWireRequest is a Messages (or count_tokens) request as an
// Anthropic upstream reads it.
type anthropicWireRequest struct {
	Model     string                 `json:"model"`
	MaxTokens *int                   `json:"max_tokens"`
	System    json.RawMessage        `json:"system"` // a string or text blocks
	Messages  []anthropicWireMessage `json:"messages"`
	Stream    bool                   `json:"stream"`
	Tools     []struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
}

type anthropicWireMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"` // a string or blocks
}

type anthropicWireBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"` // tool_result: a string or blocks
	IsError   bool            `json:"is_error"`
}

// blocks reads the content as Anthropic does, refusing what it would.
func (m anthropicWireMessage) blocks() ([]anthropicWireBlock, error) {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return []anthropicWireBlock{{Type: "text", Text: s}}, nil
	}
	var bs []anthropicWireBlock
	if err := json.Unmarshal(m.Content, &bs); err != nil {
		return nil, errors.New("Input should be a valid list")
	}
	for i, b := range bs {
		switch {
		case b.Type == "tool_use" && (b.ID == "" || b.Name == "" || !bytes.HasPrefix(bytes.TrimSpace(b.Input), []byte("{"))):
			return nil, fmt.Errorf("%d: tool_use needs an id, a name and an input object", i)
		case b.Type == "tool_result" && b.ToolUseID == "":
			return nil, fmt.Errorf("%d.tool_use_id: Field required", i)
		case !slices.Contains([]string{"text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking"}, b.Type):
			return nil, fmt.Errorf("%d.type: unknown block type %q", i, b.Type)
		}
	}
	return bs, nil
}

func (req anthropicWireRequest) hasToolResults() bool {
	for _, m := range req.Messages {
		bs, _ := m.blocks()
		if slices.ContainsFunc(bs, func(b anthropicWireBlock) bool { return b.Type == "tool_result" }) {
			return true
		}
	}
	return false
}

// upstreamView is what an upstream was asked, in neither API's terms.
type upstreamView struct {
	Path      string
	Model     string
	System    string
	Turns     []viewTurn
	Tools     []viewTool
	MaxTokens int // 0: not sent
	Stream    bool
	Usage     bool // OpenAI's stream_options.include_usage
}

type viewTurn struct {
	Role    string // user or assistant; OpenAI tool messages are user turns, as in Anthropic's API
	Text    string
	Calls   []viewCall   // an assistant's tool calls
	Results []viewResult // a user turn's tool results
}

// viewCall is a tool call; Args is compact JSON.
type viewCall struct{ ID, Name, Args string }

type viewResult struct{ ID, Text string }

type viewTool struct {
	Name, Description string
	Schema            any
}

// compact is JSON without insignificant space, or a marker that it is not
// JSON at all.
func compact(s []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, s); err != nil {
		return "NOT JSON: " + string(s)
	}
	return b.String()
}

func schemaOf(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Errorf("tool schema %s: %v", raw, err)
	}
	return v
}

// openAIText reads message content: a string, text parts, null or
// nothing.
func openAIText(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 {
		return ""
	}
	var s *string
	if json.Unmarshal(raw, &s) == nil {
		if s == nil {
			return ""
		}
		return *s
	}
	var parts []struct{ Type, Text string }
	if err := json.Unmarshal(raw, &parts); err != nil {
		t.Errorf("message content %s is neither a string nor parts", raw)
	}
	var out []string
	for _, p := range parts {
		out = append(out, p.Text)
	}
	return strings.Join(out, "")
}

func openAIView(t *testing.T, rec received) upstreamView {
	t.Helper()
	var req openAIWireRequest
	decode(t, rec.Body, &req)
	v := upstreamView{Path: rec.Path, Model: req.Model, Stream: req.Stream, Usage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}
	switch {
	case req.MaxTokens != nil:
		v.MaxTokens = *req.MaxTokens
	case req.MaxCompletionTokens != nil:
		v.MaxTokens = *req.MaxCompletionTokens
	}
	for _, tool := range req.Tools {
		if tool.Type != "function" {
			t.Errorf("tool %q has type %q, want function", tool.Function.Name, tool.Type)
		}
		v.Tools = append(v.Tools, viewTool{tool.Function.Name, tool.Function.Description, schemaOf(t, tool.Function.Parameters)})
	}
	for _, m := range req.Messages {
		switch m.Role {
		case "system", "developer":
			v.System += openAIText(t, m.Content)
		case "tool":
			r := viewResult{m.ToolCallID, openAIText(t, m.Content)}
			if n := len(v.Turns); n > 0 && v.Turns[n-1].Role == "user" && v.Turns[n-1].Results != nil {
				v.Turns[n-1].Results = append(v.Turns[n-1].Results, r)
				continue
			}
			v.Turns = append(v.Turns, viewTurn{Role: "user", Results: []viewResult{r}})
		default:
			turn := viewTurn{Role: m.Role, Text: openAIText(t, m.Content)}
			for _, c := range m.ToolCalls {
				if c.Type != "function" {
					t.Errorf("tool call %s has type %q, want function", c.ID, c.Type)
				}
				turn.Calls = append(turn.Calls, viewCall{c.ID, c.Function.Name, compact([]byte(c.Function.Arguments))})
			}
			v.Turns = append(v.Turns, turn)
		}
	}
	return v
}

// anthropicWireText reads a system prompt or tool_result content: a string or
// text blocks.
func anthropicWireText(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 {
		return ""
	}
	bs, err := anthropicWireMessage{Content: raw}.blocks()
	if err != nil {
		t.Errorf("content %s: %v", raw, err)
	}
	var out []string
	for _, b := range bs {
		if b.Type != "text" {
			t.Errorf("content %s has a %s block where text was expected", raw, b.Type)
		}
		out = append(out, b.Text)
	}
	return strings.Join(out, "")
}

func anthropicView(t *testing.T, rec received) upstreamView {
	t.Helper()
	var req anthropicWireRequest
	decode(t, rec.Body, &req)
	v := upstreamView{Path: rec.Path, Model: req.Model, Stream: req.Stream, System: anthropicWireText(t, req.System)}
	if req.MaxTokens != nil {
		v.MaxTokens = *req.MaxTokens
	}
	for _, tool := range req.Tools {
		v.Tools = append(v.Tools, viewTool{tool.Name, tool.Description, schemaOf(t, tool.InputSchema)})
	}
	for i, m := range req.Messages {
		bs, err := m.blocks()
		if err != nil {
			t.Errorf("messages.%d: %v", i, err)
		}
		turn := viewTurn{Role: m.Role}
		for _, b := range bs {
			switch b.Type {
			case "text":
				turn.Text += b.Text
			case "tool_use":
				turn.Calls = append(turn.Calls, viewCall{b.ID, b.Name, compact(b.Input)})
			case "tool_result":
				turn.Results = append(turn.Results, viewResult{b.ToolUseID, anthropicWireText(t, b.Content)})
			}
		}
		v.Turns = append(v.Turns, turn)
	}
	return v
}

// checkUpstream compares what the fake received, request by request, with
// want.
func (e *sdkEnv) checkUpstream(t *testing.T, want ...upstreamView) {
	t.Helper()
	var got []upstreamView
	for _, rec := range e.up.requests() {
		switch e.up.kind {
		case wireAnthropic:
			got = append(got, anthropicView(t, rec))
		case wireResponses:
			got = append(got, responsesView(t, rec))
		default:
			got = append(got, openAIView(t, rec))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the %s upstream received (-want +got):\n%s", e.up.kind, diff)
	}
}

// wantChat is the request every client's chat must reach the upstream as.
// maxTokens is what the upstream must see (0: none); stream whether the
// client streamed, in which case OpenAI clients ask for usage and an
// Anthropic client's request gets the ask added.
func (e *sdkEnv) wantChat(model string, maxTokens int, stream bool, question string) upstreamView {
	path := map[wireKind]string{wireOpenAI: "/v1/chat/completions", wireAnthropic: "/v1/messages", wireResponses: "/v1/responses"}[e.up.kind]
	v := upstreamView{Path: path, Model: model, System: systemPrompt, MaxTokens: maxTokens, Stream: stream,
		Usage: stream && e.up.kind == wireOpenAI, Turns: []viewTurn{{Role: "user", Text: question}}}
	if model == modelTools {
		v.Tools = []viewTool{{"get_weather", weatherDescription, weatherSchema}}
	}
	return v
}

// wantResults is the second turn of the tools conversation: the question,
// the upstream's own two calls, and the client's results for them.
func (e *sdkEnv) wantResults(maxTokens int, stream bool) upstreamView {
	v := e.wantChat(modelTools, maxTokens, stream, toolsQuestion)
	v.Turns = append(v.Turns, viewTurn{Role: "assistant", Calls: e.wantCalls()}, viewTurn{Role: "user", Results: e.wantResultsTurn()})
	return v
}

// wantCalls are the upstream's two parallel calls as the client must see
// them: its ids, the name, the exact arguments.
func (e *sdkEnv) wantCalls() []viewCall {
	var out []viewCall
	for _, c := range weatherCalls {
		out = append(out, viewCall{c.id(e.up.kind), "get_weather", c.args})
	}
	return out
}

func (e *sdkEnv) wantResultsTurn() []viewResult {
	var out []viewResult
	for _, c := range weatherCalls {
		out = append(out, viewResult{c.id(e.up.kind), c.result})
	}
	return out
}

// checkCalls compares the tool calls a client got with the upstream's.
func (e *sdkEnv) checkCalls(t *testing.T, got []viewCall) {
	t.Helper()
	if diff := cmp.Diff(e.wantCalls(), got); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
}
