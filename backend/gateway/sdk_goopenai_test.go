package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	goopenai "github.com/sashabaranov/go-openai"
)

// github.com/sashabaranov/go-openai against each kind of upstream. The
// client never sends max_tokens, so an Anthropic upstream must get the
// default.
func TestSDK_GoOpenAI(t *testing.T) {
	for _, kind := range chatWireKinds {
		t.Run(string(kind)+" provider", func(t *testing.T) {
			t.Run("text", func(t *testing.T) { goOpenAIText(t, newSDKEnv(t, kind)) })
			t.Run("text stream", func(t *testing.T) { goOpenAITextStream(t, newSDKEnv(t, kind)) })
			t.Run("text stream without usage", func(t *testing.T) { goOpenAIStreamNoUsage(t, newSDKEnv(t, kind)) })
			t.Run("tools", func(t *testing.T) { goOpenAITools(t, newSDKEnv(t, kind)) })
			t.Run("tools stream", func(t *testing.T) { goOpenAIToolsStream(t, newSDKEnv(t, kind)) })
			t.Run("upstream 400", func(t *testing.T) { goOpenAIStatus(t, newSDKEnv(t, kind), modelBad, false) })
			t.Run("upstream 400 stream", func(t *testing.T) { goOpenAIStatus(t, newSDKEnv(t, kind), modelBad, true) })
			t.Run("upstream 429", func(t *testing.T) { goOpenAIStatus(t, newSDKEnv(t, kind), modelBusy, false) })
			for _, model := range brokenStreams {
				t.Run(model, func(t *testing.T) { goOpenAIBroken(t, newSDKEnv(t, kind), model) })
			}
		})
	}
}

func goOpenAIClient(e *sdkEnv) *goopenai.Client {
	cfg := goopenai.DefaultConfig("x")
	cfg.BaseURL = e.h.url("/v1")
	cfg.HTTPClient = e.http
	return goopenai.NewClientWithConfig(cfg)
}

// goOpenAIMaxTokens is what the upstream must see: nothing relayed to an
// OpenAI upstream, the documented default for an Anthropic one.
func goOpenAIMaxTokens(e *sdkEnv) int {
	if e.up.kind == wireAnthropic {
		return 4096
	}
	return 0
}

var goOpenAIWeather = goopenai.Tool{Type: goopenai.ToolTypeFunction, Function: &goopenai.FunctionDefinition{
	Name: "get_weather", Description: weatherDescription, Parameters: weatherSchema}}

func goOpenAIRequest(model, question string, stream bool) goopenai.ChatCompletionRequest {
	req := goopenai.ChatCompletionRequest{Model: model, Messages: []goopenai.ChatCompletionMessage{
		{Role: goopenai.ChatMessageRoleSystem, Content: systemPrompt},
		{Role: goopenai.ChatMessageRoleUser, Content: question},
	}}
	if model == modelTools {
		req.Tools = []goopenai.Tool{goOpenAIWeather}
	}
	if stream {
		req.Stream = true
		req.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	}
	return req
}

func checkGoOpenAIUsage(t *testing.T, got goopenai.Usage, want wireUsage) {
	t.Helper()
	if got.PromptTokens != want.In || got.CompletionTokens != want.Out || got.TotalTokens != want.In+want.Out {
		t.Errorf("usage = prompt %d, completion %d, total %d; want %d, %d, %d",
			got.PromptTokens, got.CompletionTokens, got.TotalTokens, want.In, want.Out, want.In+want.Out)
	}
}

func goOpenAIText(t *testing.T, e *sdkEnv) {
	resp, err := goOpenAIClient(e).CreateChatCompletion(context.Background(), goOpenAIRequest(modelText, textQuestion, false))
	if err != nil {
		t.Fatalf("CreateChatCompletion: %v", err)
	}
	if len(resp.Choices) != 1 {
		t.Fatalf("%d choices, want 1", len(resp.Choices))
	}
	c := resp.Choices[0]
	if c.Message.Role != goopenai.ChatMessageRoleAssistant || c.Message.Content != textAnswer || c.FinishReason != goopenai.FinishReasonStop {
		t.Errorf("choice = role %q, content %q, finish %q; want assistant, %q, stop", c.Message.Role, c.Message.Content, c.FinishReason, textAnswer)
	}
	checkGoOpenAIUsage(t, resp.Usage, textUsage)
	if got := resp.Header().Get("X-Modelbar-Backend"); got != e.backend {
		t.Errorf("the SDK's response header X-Modelbar-Backend = %q, want %q", got, e.backend)
	}
	e.checkBackend(t, 1)
	e.checkUpstream(t, e.wantChat(modelText, goOpenAIMaxTokens(e), false, textQuestion))
}

// goOpenAIStreamed is a stream put together as a go-openai user must: the
// library has no accumulator.
type goOpenAIStreamed struct {
	Role, Content, Finish string
	Calls                 []viewCall // Args compacted
	Usage                 *goopenai.Usage
	UsageChunks           int
	IDs                   map[string]bool // chunk ids seen
}

// readGoOpenAIStream reads until the stream ends; err is nil only for a
// clean end.
func readGoOpenAIStream(t *testing.T, s *goopenai.ChatCompletionStream) (goOpenAIStreamed, error) {
	t.Helper()
	out := goOpenAIStreamed{IDs: map[string]bool{}}
	var args []strings.Builder
	result := func(err error) (goOpenAIStreamed, error) {
		for i := range out.Calls {
			out.Calls[i].Args = compact([]byte(args[i].String()))
		}
		return out, err
	}
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return result(nil)
		}
		if err != nil {
			return result(err)
		}
		out.IDs[chunk.ID] = true
		if chunk.Usage != nil {
			out.Usage = chunk.Usage
			out.UsageChunks++
		}
		for _, ch := range chunk.Choices {
			if ch.Delta.Role != "" {
				out.Role = ch.Delta.Role
			}
			out.Content += ch.Delta.Content
			if ch.FinishReason != "" {
				out.Finish = string(ch.FinishReason)
			}
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index == nil {
					t.Errorf("a streamed tool call has no index: %+v", tc)
					continue
				}
				for len(out.Calls) <= *tc.Index {
					out.Calls = append(out.Calls, viewCall{})
					args = append(args, strings.Builder{})
				}
				call := &out.Calls[*tc.Index]
				if tc.ID != "" {
					call.ID = tc.ID
				}
				call.Name += tc.Function.Name
				args[*tc.Index].WriteString(tc.Function.Arguments)
			}
		}
	}
}

// checkDone asserts a stream ended as a complete answer does.
func (s goOpenAIStreamed) checkDone(t *testing.T, finish string, usage wireUsage) {
	t.Helper()
	if s.Role != goopenai.ChatMessageRoleAssistant || s.Finish != finish {
		t.Errorf("stream: role %q, finish_reason %q; want assistant, %s", s.Role, s.Finish, finish)
	}
	if len(s.IDs) != 1 {
		t.Errorf("the chunks carry %d different ids, want one", len(s.IDs))
	}
	if s.UsageChunks != 1 {
		t.Fatalf("%d chunks carried usage, want exactly one (stream_options.include_usage)", s.UsageChunks)
	}
	checkGoOpenAIUsage(t, *s.Usage, usage)
}

func goOpenAIStream(t *testing.T, e *sdkEnv, req goopenai.ChatCompletionRequest) goOpenAIStreamed {
	t.Helper()
	stream, err := goOpenAIClient(e).CreateChatCompletionStream(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateChatCompletionStream: %v", err)
	}
	defer stream.Close()
	if got := stream.Header().Get("X-Modelbar-Backend"); got != e.backend {
		t.Errorf("the SDK's stream header X-Modelbar-Backend = %q, want %q", got, e.backend)
	}
	got, err := readGoOpenAIStream(t, stream)
	if err != nil {
		t.Fatalf("the stream failed: %v (content so far %q)", err, got.Content)
	}
	return got
}

func goOpenAITextStream(t *testing.T, e *sdkEnv) {
	got := goOpenAIStream(t, e, goOpenAIRequest(modelText, textQuestion, true))
	if got.Content != textAnswer || len(got.Calls) != 0 {
		t.Errorf("streamed content %q and %d tool calls, want %q and none", got.Content, len(got.Calls), textAnswer)
	}
	got.checkDone(t, "stop", textUsage)
	e.checkBackend(t, 1)
	e.checkUpstream(t, e.wantChat(modelText, goOpenAIMaxTokens(e), true, textQuestion))
}

// goOpenAIStreamNoUsage: a client that did not ask for usage gets no usage
// chunk, even from an upstream the gateway asked for it.
func goOpenAIStreamNoUsage(t *testing.T, e *sdkEnv) {
	req := goOpenAIRequest(modelText, textQuestion, true)
	req.StreamOptions = nil
	got := goOpenAIStream(t, e, req)
	if got.Content != textAnswer || got.Finish != "stop" {
		t.Errorf("streamed content %q, finish %q; want %q, stop", got.Content, got.Finish, textAnswer)
	}
	if got.UsageChunks != 0 {
		t.Errorf("%d chunks carried usage (%+v), want none: the client did not ask", got.UsageChunks, got.Usage)
	}
	e.checkBackend(t, 1)
	want := e.wantChat(modelText, goOpenAIMaxTokens(e), true, textQuestion)
	want.Usage = false // passed through as the client sent it; an Anthropic upstream has no such field
	e.checkUpstream(t, want)
}

// goOpenAIResults is the second turn: the assistant's calls, then one tool
// message per call.
func goOpenAIResults(req goopenai.ChatCompletionRequest, assistant goopenai.ChatCompletionMessage) goopenai.ChatCompletionRequest {
	req.Messages = append(req.Messages, assistant)
	for _, tc := range assistant.ToolCalls {
		for _, c := range weatherCalls {
			if tc.ID == c.openaiID || tc.ID == c.anthropicID {
				req.Messages = append(req.Messages, goopenai.ChatCompletionMessage{
					Role: goopenai.ChatMessageRoleTool, Content: c.result, ToolCallID: tc.ID})
			}
		}
	}
	return req
}

func goOpenAICalls(tcs []goopenai.ToolCall) []viewCall {
	var out []viewCall
	for _, tc := range tcs {
		out = append(out, viewCall{tc.ID, tc.Function.Name, compact([]byte(tc.Function.Arguments))})
	}
	return out
}

func goOpenAITools(t *testing.T, e *sdkEnv) {
	client, ctx := goOpenAIClient(e), context.Background()
	req := goOpenAIRequest(modelTools, toolsQuestion, false)
	resp, err := client.CreateChatCompletion(ctx, req)
	if err != nil {
		t.Fatalf("CreateChatCompletion: %v", err)
	}
	if len(resp.Choices) != 1 {
		t.Fatalf("%d choices, want 1", len(resp.Choices))
	}
	msg := resp.Choices[0].Message
	if resp.Choices[0].FinishReason != goopenai.FinishReasonToolCalls || msg.Content != "" {
		t.Errorf("finish_reason %q, content %q; want tool_calls and no content", resp.Choices[0].FinishReason, msg.Content)
	}
	for _, tc := range msg.ToolCalls {
		if tc.Type != goopenai.ToolTypeFunction {
			t.Errorf("tool call %s has type %q", tc.ID, tc.Type)
		}
	}
	e.checkCalls(t, goOpenAICalls(msg.ToolCalls))
	checkGoOpenAIUsage(t, resp.Usage, toolsUsage)

	resp, err = client.CreateChatCompletion(ctx, goOpenAIResults(req, msg))
	if err != nil {
		t.Fatalf("CreateChatCompletion with the tool results: %v", err)
	}
	if got := resp.Choices[0]; got.Message.Content != toolsAnswer || got.FinishReason != goopenai.FinishReasonStop {
		t.Errorf("answer %q, finish %q; want %q, stop", got.Message.Content, got.FinishReason, toolsAnswer)
	}
	checkGoOpenAIUsage(t, resp.Usage, answerUsage)
	e.checkBackend(t, 2)
	limit := goOpenAIMaxTokens(e)
	e.checkUpstream(t, e.wantChat(modelTools, limit, false, toolsQuestion), e.wantResults(limit, false))
}

func goOpenAIToolsStream(t *testing.T, e *sdkEnv) {
	req := goOpenAIRequest(modelTools, toolsQuestion, true)
	got := goOpenAIStream(t, e, req)
	if got.Content != "" {
		t.Errorf("content %q alongside the tool calls, want none", got.Content)
	}
	e.checkCalls(t, got.Calls)
	got.checkDone(t, "tool_calls", toolsUsage)

	assistant := goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleAssistant}
	for _, c := range got.Calls {
		assistant.ToolCalls = append(assistant.ToolCalls, goopenai.ToolCall{ID: c.ID, Type: goopenai.ToolTypeFunction,
			Function: goopenai.FunctionCall{Name: c.Name, Arguments: c.Args}})
	}
	answer := goOpenAIStream(t, e, goOpenAIResults(req, assistant))
	if answer.Content != toolsAnswer {
		t.Errorf("answer %q, want %q", answer.Content, toolsAnswer)
	}
	answer.checkDone(t, "stop", answerUsage)
	e.checkBackend(t, 2)
	limit := goOpenAIMaxTokens(e)
	e.checkUpstream(t, e.wantChat(modelTools, limit, true, toolsQuestion), e.wantResults(limit, true))
}

// goOpenAIStatus: an upstream's 400 or 429 reaches the client as an API
// error with the status and the upstream's message.
func goOpenAIStatus(t *testing.T, e *sdkEnv, model string, stream bool) {
	client, ctx := goOpenAIClient(e), context.Background()
	req := goOpenAIRequest(model, textQuestion, stream)
	var err error
	if stream {
		var s *goopenai.ChatCompletionStream
		if s, err = client.CreateChatCompletionStream(ctx, req); err == nil {
			s.Close()
			t.Fatal("CreateChatCompletionStream succeeded against a failing upstream")
		}
	} else {
		_, err = client.CreateChatCompletion(ctx, req)
	}
	status, msg := http.StatusBadRequest, badMessage
	if model == modelBusy {
		status, msg = http.StatusTooManyRequests, busyMessage
	}
	var apiErr *goopenai.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T), want *openai.APIError", err, err)
	}
	if apiErr.HTTPStatusCode != status || !strings.Contains(apiErr.Message, msg) {
		t.Errorf("APIError status %d, message %q; want %d and a message with %q", apiErr.HTTPStatusCode, apiErr.Message, status, msg)
	}
	if status == http.StatusBadRequest && apiErr.Type != "invalid_request_error" {
		t.Errorf("APIError type %q, want invalid_request_error", apiErr.Type)
	}
	hdr := e.checkBackend(t, 1)
	if status == http.StatusTooManyRequests && hdr.Get("Retry-After") != retryAfter {
		t.Errorf("Retry-After = %q, want %q", hdr.Get("Retry-After"), retryAfter)
	}
	if n := len(e.up.requests()); n != 1 {
		t.Errorf("the upstream received %d requests, want 1", n)
	}
}

// goOpenAIBroken: the upstream's stream fails after its first content; the
// client must get that content and then an error, never a clean end.
func goOpenAIBroken(t *testing.T, e *sdkEnv, model string) {
	stream, err := goOpenAIClient(e).CreateChatCompletionStream(context.Background(), goOpenAIRequest(model, textQuestion, true))
	if err != nil {
		t.Fatalf("CreateChatCompletionStream: %v", err)
	}
	defer stream.Close()
	got, err := readGoOpenAIStream(t, stream)
	if err == nil {
		t.Fatalf("a stream cut short ended cleanly (content %q, finish %q): the client must see an error", got.Content, got.Finish)
	}
	if got.Content != textFragments[0] || got.Finish != "" {
		t.Errorf("before the error: content %q, finish %q; want %q and no finish_reason", got.Content, got.Finish, textFragments[0])
	}
	if model == modelError && !strings.Contains(err.Error(), streamFailure) {
		t.Errorf("stream error %q does not carry the upstream's message %q", err, streamFailure)
	}
	e.checkBackend(t, 1)
}
