package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	openai "github.com/sashabaranov/go-openai"
)

// sdkUpstream answers like OpenAI: a stream when asked for one, JSON
// otherwise, the model it was sent echoed back.
func sdkUpstream(t *testing.T) *fakeProvider {
	return newFake(t, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(http.StatusBadRequest, `{"error":{"message":"bad json"}}`)(w, r)
			return
		}
		if !req.Stream {
			okChat("Hello from "+req.Model)(w, r)
			return
		}
		sse(chunk("Hello"), chunk(", "), chunk(req.Model), done)(w, r)
	})
}

func newSDKClient(h *harness) *openai.Client {
	cfg := openai.DefaultConfig("sk-client-key-ignored")
	cfg.BaseURL = h.url("/v1")
	cfg.HTTPClient = h.client
	return openai.NewClientWithConfig(cfg)
}

var sdkMessages = []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "hi"}}

func TestOpenAIClient_EndToEnd(t *testing.T) {
	h := newHarness(t)
	up := sdkUpstream(t)
	h.putProvider("openai", up.baseURL(), "sk-provider-key-0001")
	h.addRoute(map[string]any{"model_pattern": "fast", "backend": "openai", "backend_model": "gpt-4o-mini"})
	h.route("gpt-4o", "openai")
	h.route("claude-*", "openai")
	h.route("mlx-community/Qwen3-4B", "local")
	h.addRoute(map[string]any{"model_pattern": "hidden", "backend": "openai", "enabled": false})
	client := newSDKClient(h)
	ctx := context.Background()

	t.Run("chat completion", func(t *testing.T) {
		resp, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "fast", Messages: sdkMessages})
		if err != nil {
			t.Fatalf("CreateChatCompletion: %v", err)
		}
		if got := resp.Choices[0].Message.Content; got != "Hello from gpt-4o-mini" {
			t.Errorf("content = %q", got)
		}
		if got := resp.Header().Get("X-Modelbar-Backend"); got != "openai" {
			t.Errorf("X-Modelbar-Backend = %q", got)
		}
	})

	t.Run("chat completion stream", func(t *testing.T) {
		stream, err := client.CreateChatCompletionStream(ctx, openai.ChatCompletionRequest{Model: "gpt-4o", Messages: sdkMessages, Stream: true})
		if err != nil {
			t.Fatalf("CreateChatCompletionStream: %v", err)
		}
		defer stream.Close()
		var content strings.Builder
		for {
			chunk, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("Recv: %v (content so far %q)", err, content.String())
			}
			content.WriteString(chunk.Choices[0].Delta.Content)
		}
		if content.String() != "Hello, gpt-4o" {
			t.Errorf("streamed content = %q", content.String())
		}
	})

	t.Run("list models", func(t *testing.T) {
		list, err := client.ListModels(ctx)
		if err != nil {
			t.Fatalf("ListModels: %v", err)
		}
		type model struct{ ID, OwnedBy, Object string }
		var got []model
		for _, m := range list.Models {
			got = append(got, model{m.ID, m.OwnedBy, m.Object})
		}
		want := []model{{"fast", "openai", "model"}, {"gpt-4o", "openai", "model"}, {"mlx-community/Qwen3-4B", "local", "model"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("models (-want +got):\n%s", diff)
		}
		m, err := client.GetModel(ctx, "claude-3-5-sonnet")
		if err != nil || m.OwnedBy != "openai" {
			t.Errorf("GetModel of a wildcard-routed name: %+v, %v", m, err)
		}
	})

	t.Run("unknown model", func(t *testing.T) {
		_, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "nobody-serves-this", Messages: sdkMessages})
		var apiErr *openai.APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("error %v (%T), want *openai.APIError", err, err)
		}
		if apiErr.HTTPStatusCode != http.StatusNotFound || apiErr.Code != "model_not_found" || apiErr.Message == "" {
			t.Errorf("APIError = %+v", apiErr)
		}
	})

	t.Run("missing messages", func(t *testing.T) {
		_, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "fast"})
		var apiErr *openai.APIError
		if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusBadRequest || apiErr.Param == nil || *apiErr.Param != "messages" {
			t.Errorf("error %#v, want a 400 APIError with param messages", err)
		}
	})
}

func TestOpenAIClient_UpstreamFailures(t *testing.T) {
	h := newHarness(t)
	limited := newFake(t, reply(http.StatusTooManyRequests,
		`{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`, "Retry-After", "3"))
	broken := newFake(t, sse(chunk("partial")))
	h.putProvider("limited", limited.baseURL(), "")
	h.putProvider("broken", broken.baseURL(), "")
	h.route("limited", "limited")
	h.route("broken", "broken")
	client := newSDKClient(h)
	ctx := context.Background()

	_, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "limited", Messages: sdkMessages})
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusTooManyRequests || apiErr.Message != "slow down" {
		t.Errorf("rate limited: error %#v, want a 429 APIError saying slow down", err)
	}

	stream, err := client.CreateChatCompletionStream(ctx, openai.ChatCompletionRequest{Model: "broken", Messages: sdkMessages, Stream: true})
	if err != nil {
		t.Fatalf("CreateChatCompletionStream: %v", err)
	}
	defer stream.Close()
	first, err := stream.Recv()
	if err != nil || first.Choices[0].Delta.Content != "partial" {
		t.Fatalf("first chunk: %+v, %v", first, err)
	}
	_, err = stream.Recv()
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("a stream cut short ended with %v: the SDK must see an error, not a clean end", err)
	}
	if !strings.Contains(err.Error(), "broken") {
		t.Errorf("stream error %q does not name the backend", err)
	}
}
