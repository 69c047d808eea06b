package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/google/go-cmp/cmp"
)

// github.com/anthropics/anthropic-sdk-go against each kind of upstream.
func TestSDK_Anthropic(t *testing.T) {
	for _, kind := range chatWireKinds {
		t.Run(string(kind)+" provider", func(t *testing.T) {
			t.Run("text", func(t *testing.T) { anthropicText(t, newSDKEnv(t, kind)) })
			t.Run("text stream", func(t *testing.T) { anthropicTextStream(t, newSDKEnv(t, kind)) })
			t.Run("tools", func(t *testing.T) { anthropicTools(t, newSDKEnv(t, kind)) })
			t.Run("tools stream", func(t *testing.T) { anthropicToolsStream(t, newSDKEnv(t, kind)) })
			t.Run("upstream 400", func(t *testing.T) { anthropicStatus(t, newSDKEnv(t, kind), modelBad, false) })
			t.Run("upstream 400 stream", func(t *testing.T) { anthropicStatus(t, newSDKEnv(t, kind), modelBad, true) })
			t.Run("upstream 429", func(t *testing.T) { anthropicStatus(t, newSDKEnv(t, kind), modelBusy, false) })
			for _, model := range brokenStreams {
				t.Run(model, func(t *testing.T) { anthropicBroken(t, newSDKEnv(t, kind), model) })
			}
			t.Run("count tokens", func(t *testing.T) { anthropicCount(t, newSDKEnv(t, kind)) })
		})
	}
}

const anthropicMaxTokens = 1024

func anthropicClient(e *sdkEnv) *anthropic.Client {
	c := anthropic.NewClient(option.WithBaseURL(e.h.url("")), option.WithAPIKey("x"),
		option.WithMaxRetries(0), option.WithHTTPClient(e.http))
	return &c
}

var anthropicWeather = anthropic.ToolParam{Name: "get_weather", Description: anthropic.String(weatherDescription),
	InputSchema: anthropic.ToolInputSchemaParam{Properties: weatherSchema["properties"], Required: []string{"city"}}}

func anthropicParams(model, question string) anthropic.MessageNewParams {
	p := anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: anthropicMaxTokens,
		System:    []anthropic.TextBlockParam{{Text: systemPrompt}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(question))},
	}
	if model == modelTools {
		p.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropicWeather}}
	}
	return p
}

func checkAnthropicUsage(t *testing.T, got anthropic.Usage, want wireUsage) {
	t.Helper()
	if got.InputTokens != int64(want.In) || got.OutputTokens != int64(want.Out) {
		t.Errorf("usage = input %d, output %d; want %d, %d", got.InputTokens, got.OutputTokens, want.In, want.Out)
	}
}

// checkAnthropicMessage compares a message with the answer it must be:
// text, or tool calls, a stop reason and usage.
func checkAnthropicMessage(t *testing.T, e *sdkEnv, msg *anthropic.Message, text string, calls bool, usage wireUsage) {
	t.Helper()
	type block struct{ Type, Text string }
	var got, want []block
	var gotCalls []viewCall
	for _, b := range msg.Content {
		got = append(got, block{b.Type, b.Text})
		if b.Type == "tool_use" {
			gotCalls = append(gotCalls, viewCall{b.ID, b.Name, compact(b.Input)})
		}
	}
	stop := anthropic.StopReasonEndTurn
	if text != "" {
		want = append(want, block{"text", text})
	}
	if calls {
		stop = anthropic.StopReasonToolUse
		want = append(want, block{"tool_use", ""}, block{"tool_use", ""})
		e.checkCalls(t, gotCalls)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("content blocks (-want +got):\n%s", diff)
	}
	if msg.Role != "assistant" || msg.Type != "message" || msg.StopReason != stop {
		t.Errorf("message: type %q, role %q, stop_reason %q; want message, assistant, %s", msg.Type, msg.Role, msg.StopReason, stop)
	}
	checkAnthropicUsage(t, msg.Usage, usage)
}

func anthropicText(t *testing.T, e *sdkEnv) {
	var raw *http.Response
	msg, err := anthropicClient(e).Messages.New(context.Background(), anthropicParams(modelText, textQuestion), option.WithResponseInto(&raw))
	if err != nil {
		t.Fatalf("Messages.New: %v", err)
	}
	checkAnthropicMessage(t, e, msg, textAnswer, false, textUsage)
	if got := raw.Header.Get("X-Modelbar-Backend"); got != e.backend {
		t.Errorf("X-Modelbar-Backend (WithResponseInto) = %q, want %q", got, e.backend)
	}
	e.checkBackend(t, 1)
	e.checkUpstream(t, e.wantChat(modelText, anthropicMaxTokens, false, textQuestion))
}

// readAnthropicStream reads a stream into a message with the SDK's own
// Accumulate, noting each event type; err is nil only for a clean end.
func readAnthropicStream(t *testing.T, e *sdkEnv, p anthropic.MessageNewParams) (*anthropic.Message, []string, error) {
	t.Helper()
	stream := anthropicClient(e).Messages.NewStreaming(context.Background(), p)
	defer stream.Close()
	var msg anthropic.Message
	var types []string
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if err := msg.Accumulate(ev); err != nil {
			t.Errorf("Accumulate(%s): %v", ev.RawJSON(), err)
		}
	}
	return &msg, types, stream.Err()
}

// anthropicStream streams p and checks the events came in a well-formed
// order, ending with message_stop.
func anthropicStream(t *testing.T, e *sdkEnv, p anthropic.MessageNewParams) *anthropic.Message {
	t.Helper()
	msg, types, err := readAnthropicStream(t, e, p)
	if err != nil {
		t.Fatalf("the stream failed: %v (events %v)", err, types)
	}
	n := len(types)
	if n < 3 || types[0] != "message_start" || types[n-2] != "message_delta" || types[n-1] != "message_stop" {
		t.Errorf("events %v: want message_start first, message_delta and message_stop last", types)
	}
	return msg
}

func anthropicTextStream(t *testing.T, e *sdkEnv) {
	msg := anthropicStream(t, e, anthropicParams(modelText, textQuestion))
	checkAnthropicMessage(t, e, msg, textAnswer, false, textUsage)
	e.checkBackend(t, 1)
	e.checkUpstream(t, e.wantChat(modelText, anthropicMaxTokens, true, textQuestion))
}

// anthropicResults is the second turn: the assistant's message, then a
// user message with a tool_result per tool_use.
func anthropicResults(p anthropic.MessageNewParams, assistant *anthropic.Message) anthropic.MessageNewParams {
	var results []anthropic.ContentBlockParamUnion
	for _, b := range assistant.Content {
		for _, c := range weatherCalls {
			if b.Type == "tool_use" && (b.ID == c.openaiID || b.ID == c.anthropicID) {
				results = append(results, anthropic.NewToolResultBlock(b.ID, c.result, false))
			}
		}
	}
	p.Messages = append(p.Messages, assistant.ToParam(), anthropic.NewUserMessage(results...))
	return p
}

func anthropicTools(t *testing.T, e *sdkEnv) {
	client, ctx := anthropicClient(e), context.Background()
	p := anthropicParams(modelTools, toolsQuestion)
	msg, err := client.Messages.New(ctx, p)
	if err != nil {
		t.Fatalf("Messages.New: %v", err)
	}
	checkAnthropicMessage(t, e, msg, "", true, toolsUsage)

	answer, err := client.Messages.New(ctx, anthropicResults(p, msg))
	if err != nil {
		t.Fatalf("Messages.New with the tool results: %v", err)
	}
	checkAnthropicMessage(t, e, answer, toolsAnswer, false, answerUsage)
	e.checkBackend(t, 2)
	e.checkUpstream(t, e.wantChat(modelTools, anthropicMaxTokens, false, toolsQuestion), e.wantResults(anthropicMaxTokens, false))
}

func anthropicToolsStream(t *testing.T, e *sdkEnv) {
	p := anthropicParams(modelTools, toolsQuestion)
	msg := anthropicStream(t, e, p)
	checkAnthropicMessage(t, e, msg, "", true, toolsUsage)

	answer := anthropicStream(t, e, anthropicResults(p, msg))
	checkAnthropicMessage(t, e, answer, toolsAnswer, false, answerUsage)
	e.checkBackend(t, 2)
	e.checkUpstream(t, e.wantChat(modelTools, anthropicMaxTokens, true, toolsQuestion), e.wantResults(anthropicMaxTokens, true))
}

// anthropicErrorBody reads Anthropic's error shape from an SDK error.
func anthropicErrorBody(t *testing.T, apiErr *anthropic.Error) (typ, msg string) {
	t.Helper()
	var body struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(apiErr.RawJSON()), &body); err != nil || body.Type != "error" {
		t.Errorf("error body %q is not {\"type\":\"error\",\"error\":{...}}: %v", apiErr.RawJSON(), err)
	}
	return body.Error.Type, body.Error.Message
}

// anthropicStatus: an upstream's 400 or 429 reaches the client as an
// *anthropic.Error with the status, the type, the upstream's message and
// Retry-After.
func anthropicStatus(t *testing.T, e *sdkEnv, model string, stream bool) {
	client, ctx := anthropicClient(e), context.Background()
	p := anthropicParams(model, textQuestion)
	var err error
	if stream {
		s := client.Messages.NewStreaming(ctx, p)
		for s.Next() {
			t.Errorf("an event from a failing upstream: %s", s.Current().RawJSON())
		}
		err = s.Err()
		s.Close()
	} else {
		_, err = client.Messages.New(ctx, p)
	}
	status, typ, msg := http.StatusBadRequest, "invalid_request_error", badMessage
	if model == modelBusy {
		status, typ, msg = http.StatusTooManyRequests, "rate_limit_error", busyMessage
	}
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T), want *anthropic.Error", err, err)
	}
	gotType, gotMsg := anthropicErrorBody(t, apiErr)
	if apiErr.StatusCode != status || gotType != typ || string(apiErr.Type()) != typ || !strings.Contains(gotMsg, msg) {
		t.Errorf("Error status %d, type %q, message %q; want %d, %s and a message with %q", apiErr.StatusCode, gotType, gotMsg, status, typ, msg)
	}
	if status == http.StatusTooManyRequests && apiErr.Response.Header.Get("Retry-After") != retryAfter {
		t.Errorf("Retry-After = %q, want %q", apiErr.Response.Header.Get("Retry-After"), retryAfter)
	}
	e.checkBackend(t, 1)
	if n := len(e.up.requests()); n != 1 {
		t.Errorf("the upstream received %d requests, want 1", n)
	}
}

// anthropicBroken: the upstream's stream fails after its first content;
// the stream must end with an error event after that content, never
// cleanly.
func anthropicBroken(t *testing.T, e *sdkEnv, model string) {
	msg, types, err := readAnthropicStream(t, e, anthropicParams(model, textQuestion))
	var text strings.Builder
	for _, b := range msg.Content {
		text.WriteString(b.Text)
	}
	if err == nil {
		t.Fatalf("a stream cut short ended cleanly (events %v): the client must see an error", types)
	}
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		t.Errorf("stream error %v (%T): want the SDK's *anthropic.Error from an error event", err, err)
	}
	if model == modelError && !strings.Contains(err.Error(), streamFailure) {
		t.Errorf("stream error %q does not carry the upstream's message %q", err, streamFailure)
	}
	if text.String() != textFragments[0] || msg.StopReason != "" {
		t.Errorf("before the error: text %q, stop_reason %q; want %q and none", text.String(), msg.StopReason, textFragments[0])
	}
	e.checkBackend(t, 1)
}

// anthropicCount: count_tokens is the provider's own count from an
// Anthropic upstream, and an estimate (never an error) otherwise.
func anthropicCount(t *testing.T, e *sdkEnv) {
	var raw *http.Response
	res, err := anthropicClient(e).Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model:    anthropic.Model(modelTools),
		System:   anthropic.MessageCountTokensParamsSystemUnion{OfString: anthropic.String(systemPrompt)},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(toolsQuestion))},
		Tools:    []anthropic.MessageCountTokensToolUnionParam{{OfTool: &anthropicWeather}},
	}, option.WithResponseInto(&raw))
	if err != nil {
		t.Fatalf("Messages.CountTokens: %v", err)
	}
	if e.up.kind != wireAnthropic {
		if res.InputTokens <= 0 || raw.Header.Get("X-Modelbar-Estimate") != "true" {
			t.Errorf("input_tokens %d, X-Modelbar-Estimate %q: want an estimate > 0, flagged", res.InputTokens, raw.Header.Get("X-Modelbar-Estimate"))
		}
		if n := len(e.up.requests()); n != 0 {
			t.Errorf("the OpenAI upstream received %d requests for a count, want 0", n)
		}
		return
	}
	if res.InputTokens != countAnswer {
		t.Errorf("input_tokens %d, want the provider's %d", res.InputTokens, countAnswer)
	}
	e.checkBackend(t, 1)
	rec := e.up.only(t)
	v := anthropicView(t, rec)
	want := e.wantChat(modelTools, 0, false, toolsQuestion)
	want.Path = "/v1/messages/count_tokens"
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("the upstream's count request (-want +got):\n%s", diff)
	}
}
