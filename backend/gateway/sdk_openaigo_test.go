package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	openaigo "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"
)

// github.com/openai/openai-go/v3 against each kind of upstream. The client
// sets max_completion_tokens; an Anthropic upstream must get it as
// max_tokens.
func TestSDK_OpenAIGo(t *testing.T) {
	for _, kind := range chatWireKinds {
		t.Run(string(kind)+" provider", func(t *testing.T) {
			t.Run("text", func(t *testing.T) { openAIGoText(t, newSDKEnv(t, kind)) })
			t.Run("text stream", func(t *testing.T) { openAIGoTextStream(t, newSDKEnv(t, kind)) })
			t.Run("tools", func(t *testing.T) { openAIGoTools(t, newSDKEnv(t, kind)) })
			t.Run("tools stream", func(t *testing.T) { openAIGoToolsStream(t, newSDKEnv(t, kind)) })
			t.Run("upstream 400", func(t *testing.T) { openAIGoStatus(t, newSDKEnv(t, kind), modelBad, false) })
			t.Run("upstream 400 stream", func(t *testing.T) { openAIGoStatus(t, newSDKEnv(t, kind), modelBad, true) })
			t.Run("upstream 429", func(t *testing.T) { openAIGoStatus(t, newSDKEnv(t, kind), modelBusy, false) })
			for _, model := range brokenStreams {
				t.Run(model, func(t *testing.T) { openAIGoBroken(t, newSDKEnv(t, kind), model) })
			}
		})
	}
}

const openAIGoMaxTokens = 300

func openAIGoClient(e *sdkEnv) *openaigo.Client {
	c := openaigo.NewClient(option.WithBaseURL(e.h.url("/v1/")), option.WithAPIKey("x"),
		option.WithMaxRetries(0), option.WithHTTPClient(e.http))
	return &c
}

func openAIGoParams(model, question string, stream bool) openaigo.ChatCompletionNewParams {
	p := openaigo.ChatCompletionNewParams{
		Model:               model,
		Messages:            []openaigo.ChatCompletionMessageParamUnion{openaigo.SystemMessage(systemPrompt), openaigo.UserMessage(question)},
		MaxCompletionTokens: openaigo.Int(openAIGoMaxTokens),
	}
	if model == modelTools {
		p.Tools = []openaigo.ChatCompletionToolUnionParam{openaigo.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: "get_weather", Description: openaigo.String(weatherDescription), Parameters: shared.FunctionParameters(weatherSchema)})}
	}
	if stream {
		p.StreamOptions = openaigo.ChatCompletionStreamOptionsParam{IncludeUsage: openaigo.Bool(true)}
	}
	return p
}

func checkOpenAIGoUsage(t *testing.T, got openaigo.CompletionUsage, want wireUsage) {
	t.Helper()
	if got.PromptTokens != int64(want.In) || got.CompletionTokens != int64(want.Out) || got.TotalTokens != int64(want.In+want.Out) {
		t.Errorf("usage = prompt %d, completion %d, total %d; want %d, %d, %d",
			got.PromptTokens, got.CompletionTokens, got.TotalTokens, want.In, want.Out, want.In+want.Out)
	}
}

func openAIGoCalls(tcs []openaigo.ChatCompletionMessageToolCallUnion) []viewCall {
	var out []viewCall
	for _, tc := range tcs {
		out = append(out, viewCall{tc.ID, tc.Function.Name, compact([]byte(tc.Function.Arguments))})
	}
	return out
}

func openAIGoText(t *testing.T, e *sdkEnv) {
	var raw *http.Response
	resp, err := openAIGoClient(e).Chat.Completions.New(context.Background(), openAIGoParams(modelText, textQuestion, false),
		option.WithResponseInto(&raw))
	if err != nil {
		t.Fatalf("Chat.Completions.New: %v", err)
	}
	if len(resp.Choices) != 1 {
		t.Fatalf("%d choices, want 1", len(resp.Choices))
	}
	c := resp.Choices[0]
	if c.Message.Content != textAnswer || c.FinishReason != "stop" || c.Message.Role != "assistant" {
		t.Errorf("choice = role %q, content %q, finish %q; want assistant, %q, stop", c.Message.Role, c.Message.Content, c.FinishReason, textAnswer)
	}
	checkOpenAIGoUsage(t, resp.Usage, textUsage)
	if got := raw.Header.Get("X-Modelbar-Backend"); got != e.backend {
		t.Errorf("X-Modelbar-Backend (WithResponseInto) = %q, want %q", got, e.backend)
	}
	e.checkBackend(t, 1)
	e.checkUpstream(t, e.wantChat(modelText, openAIGoMaxTokens, false, textQuestion))
}

// openAIGoStreamed is a stream as the SDK's own accumulator put it together.
type openAIGoStreamed struct {
	acc         openaigo.ChatCompletionAccumulator
	usageChunks int
}

// readOpenAIGoStream reads the stream to its end; err is nil only for a
// clean end.
func readOpenAIGoStream(t *testing.T, e *sdkEnv, p openaigo.ChatCompletionNewParams) (*openAIGoStreamed, error) {
	t.Helper()
	stream := openAIGoClient(e).Chat.Completions.NewStreaming(context.Background(), p)
	defer stream.Close()
	out := &openAIGoStreamed{}
	for n := 0; stream.Next(); n++ {
		chunk := stream.Current()
		if chunk.JSON.Usage.Valid() {
			out.usageChunks++
		}
		if !out.acc.AddChunk(chunk) {
			t.Errorf("the accumulator refused chunk %d: %s", n, chunk.RawJSON())
		}
	}
	return out, stream.Err()
}

// openAIGoStream streams p and checks the stream ended as a complete
// answer with finish and usage does.
func openAIGoStream(t *testing.T, e *sdkEnv, p openaigo.ChatCompletionNewParams, finish string, usage wireUsage) openaigo.ChatCompletionMessage {
	t.Helper()
	got, err := readOpenAIGoStream(t, e, p)
	if err != nil {
		t.Fatalf("the stream failed: %v", err)
	}
	if len(got.acc.Choices) != 1 {
		t.Fatalf("the stream made %d choices, want 1", len(got.acc.Choices))
	}
	if c := got.acc.Choices[0]; c.FinishReason != finish {
		t.Errorf("finish_reason %q, want %s", c.FinishReason, finish)
	}
	if got.usageChunks != 1 {
		t.Errorf("%d chunks carried usage, want exactly one (stream_options.include_usage)", got.usageChunks)
	}
	checkOpenAIGoUsage(t, got.acc.Usage, usage)
	return got.acc.Choices[0].Message
}

func openAIGoTextStream(t *testing.T, e *sdkEnv) {
	msg := openAIGoStream(t, e, openAIGoParams(modelText, textQuestion, true), "stop", textUsage)
	if msg.Content != textAnswer || msg.Role != "assistant" || len(msg.ToolCalls) != 0 {
		t.Errorf("streamed message: role %q, content %q, %d tool calls; want assistant, %q, none",
			msg.Role, msg.Content, len(msg.ToolCalls), textAnswer)
	}
	e.checkBackend(t, 1)
	e.checkUpstream(t, e.wantChat(modelText, openAIGoMaxTokens, true, textQuestion))
}

// openAIGoResults is the second turn: the assistant message, then a tool
// message per call.
func openAIGoResults(p openaigo.ChatCompletionNewParams, assistant openaigo.ChatCompletionMessage) openaigo.ChatCompletionNewParams {
	p.Messages = append(p.Messages, assistant.ToParam())
	for _, tc := range assistant.ToolCalls {
		for _, c := range weatherCalls {
			if tc.ID == c.openaiID || tc.ID == c.anthropicID {
				p.Messages = append(p.Messages, openaigo.ToolMessage(c.result, tc.ID))
			}
		}
	}
	return p
}

func openAIGoTools(t *testing.T, e *sdkEnv) {
	client, ctx := openAIGoClient(e), context.Background()
	p := openAIGoParams(modelTools, toolsQuestion, false)
	resp, err := client.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatalf("Chat.Completions.New: %v", err)
	}
	if len(resp.Choices) != 1 {
		t.Fatalf("%d choices, want 1", len(resp.Choices))
	}
	msg := resp.Choices[0].Message
	if resp.Choices[0].FinishReason != "tool_calls" || msg.Content != "" {
		t.Errorf("finish_reason %q, content %q; want tool_calls and no content", resp.Choices[0].FinishReason, msg.Content)
	}
	e.checkCalls(t, openAIGoCalls(msg.ToolCalls))
	checkOpenAIGoUsage(t, resp.Usage, toolsUsage)

	resp, err = client.Chat.Completions.New(ctx, openAIGoResults(p, msg))
	if err != nil {
		t.Fatalf("Chat.Completions.New with the tool results: %v", err)
	}
	if c := resp.Choices[0]; c.Message.Content != toolsAnswer || c.FinishReason != "stop" {
		t.Errorf("answer %q, finish %q; want %q, stop", c.Message.Content, c.FinishReason, toolsAnswer)
	}
	checkOpenAIGoUsage(t, resp.Usage, answerUsage)
	e.checkBackend(t, 2)
	e.checkUpstream(t, e.wantChat(modelTools, openAIGoMaxTokens, false, toolsQuestion), e.wantResults(openAIGoMaxTokens, false))
}

func openAIGoToolsStream(t *testing.T, e *sdkEnv) {
	p := openAIGoParams(modelTools, toolsQuestion, true)
	msg := openAIGoStream(t, e, p, "tool_calls", toolsUsage)
	if msg.Content != "" {
		t.Errorf("content %q alongside the tool calls, want none", msg.Content)
	}
	e.checkCalls(t, openAIGoCalls(msg.ToolCalls))

	answer := openAIGoStream(t, e, openAIGoResults(p, msg), "stop", answerUsage)
	if answer.Content != toolsAnswer {
		t.Errorf("answer %q, want %q", answer.Content, toolsAnswer)
	}
	e.checkBackend(t, 2)
	e.checkUpstream(t, e.wantChat(modelTools, openAIGoMaxTokens, true, toolsQuestion), e.wantResults(openAIGoMaxTokens, true))
}

// openAIGoStatus: an upstream's 400 or 429 reaches the client as an
// *openai.Error with the status, the upstream's message and Retry-After.
func openAIGoStatus(t *testing.T, e *sdkEnv, model string, stream bool) {
	client, ctx := openAIGoClient(e), context.Background()
	p := openAIGoParams(model, textQuestion, stream)
	var err error
	if stream {
		s := client.Chat.Completions.NewStreaming(ctx, p)
		for s.Next() {
			t.Errorf("a chunk from a failing upstream: %s", s.Current().RawJSON())
		}
		err = s.Err()
		s.Close()
	} else {
		_, err = client.Chat.Completions.New(ctx, p)
	}
	status, msg := http.StatusBadRequest, badMessage
	if model == modelBusy {
		status, msg = http.StatusTooManyRequests, busyMessage
	}
	var apiErr *openaigo.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T), want *openai.Error", err, err)
	}
	if apiErr.StatusCode != status || !strings.Contains(apiErr.Message, msg) {
		t.Errorf("Error status %d, message %q; want %d and a message with %q", apiErr.StatusCode, apiErr.Message, status, msg)
	}
	if status == http.StatusTooManyRequests && apiErr.Response.Header.Get("Retry-After") != retryAfter {
		t.Errorf("Retry-After = %q, want %q", apiErr.Response.Header.Get("Retry-After"), retryAfter)
	}
	e.checkBackend(t, 1)
	if n := len(e.up.requests()); n != 1 {
		t.Errorf("the upstream received %d requests, want 1", n)
	}
}

// openAIGoBroken: the upstream's stream fails after its first content; the
// stream must end with an error after that content, never cleanly.
func openAIGoBroken(t *testing.T, e *sdkEnv, model string) {
	got, err := readOpenAIGoStream(t, e, openAIGoParams(model, textQuestion, true))
	var content, finish string
	if len(got.acc.Choices) > 0 {
		content, finish = got.acc.Choices[0].Message.Content, got.acc.Choices[0].FinishReason
	}
	if err == nil {
		t.Fatalf("a stream cut short ended cleanly (content %q, finish %q): the client must see an error", content, finish)
	}
	var se *ssestream.StreamError
	if !errors.As(err, &se) {
		t.Errorf("stream error %v (%T): want the SDK's *ssestream.StreamError from an error event", err, err)
	}
	if model == modelError && !strings.Contains(err.Error(), streamFailure) {
		t.Errorf("stream error %q does not carry the upstream's message %q", err, streamFailure)
	}
	if content != textFragments[0] || finish != "" {
		t.Errorf("before the error: content %q, finish %q; want %q and no finish_reason", content, finish, textFragments[0])
	}
	e.checkBackend(t, 1)
}
