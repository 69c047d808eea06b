package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	openaigo "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/grammar/grammartest"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/gateway"
)

// structuredSchema is what the SDK tests ask the local model for, in the
// shape OpenAI's strict mode requires (every property required, no
// others, optional ones nullable).
const structuredSchema = `{"type":"object","properties":{
	"city":{"type":"string","maxLength":20},
	"days":{"type":"integer"},
	"unit":{"enum":["celsius","fahrenheit"]},
	"alerts":{"type":"array","items":{"type":"string"},"maxItems":2},
	"note":{"type":["string","null"]}},
	"required":["city","days","unit","alerts","note"],"additionalProperties":false}`

func structuredSchemaMap(t *testing.T) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(structuredSchema), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The OpenAI Go SDK's structured output (response_format json_schema,
// strict) against the local engine, whole and streamed, over seeds: every
// answer parses and follows the schema, though the model's weights are
// random.
func TestSDK_OpenAIGoStructuredOutputLocal(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	c := openaigo.NewClient(option.WithBaseURL(h.url("/v1/")), option.WithAPIKey("x"), option.WithMaxRetries(0))
	ctx := context.Background()
	for seed := int64(0); seed < 8; seed++ {
		p := openaigo.ChatCompletionNewParams{
			Model:               localModel,
			Messages:            []openaigo.ChatCompletionMessageParamUnion{openaigo.UserMessage("The weather in Oslo, as JSON.")},
			MaxCompletionTokens: openaigo.Int(120),
			Temperature:         openaigo.Float(1),
			Seed:                openaigo.Int(seed),
			ResponseFormat: openaigo.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "weather", Strict: openaigo.Bool(true), Schema: structuredSchemaMap(t)}}},
		}
		resp, err := c.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		got := resp.Choices[0].Message.Content
		if err := grammartest.Validate([]byte(structuredSchema), []byte(got)); err != nil || resp.Choices[0].FinishReason != "stop" {
			t.Fatalf("seed %d: %q (finish %s): %v", seed, got, resp.Choices[0].FinishReason, err)
		}

		stream := c.Chat.Completions.NewStreaming(ctx, p)
		var text strings.Builder
		for stream.Next() {
			if ch := stream.Current(); len(ch.Choices) > 0 {
				text.WriteString(ch.Choices[0].Delta.Content)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("seed %d stream: %v", seed, err)
		}
		if text.String() != got {
			t.Errorf("seed %d: streamed %q, whole %q", seed, text.String(), got)
		}
	}
	// json_object: any object.
	resp, err := c.Chat.Completions.New(ctx, openaigo.ChatCompletionNewParams{
		Model: localModel, MaxCompletionTokens: openaigo.Int(40), Temperature: openaigo.Float(1),
		Messages:       []openaigo.ChatCompletionMessageParamUnion{openaigo.UserMessage("JSON please")},
		ResponseFormat: openaigo.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := grammartest.Validate(nil, []byte(resp.Choices[0].Message.Content)); err != nil {
		t.Errorf("json_object: %q: %v", resp.Choices[0].Message.Content, err)
	}
}

// The Anthropic SDK's structured output (output_config.format
// json_schema) against the local engine, and the beta's top-level
// output_format on the wire.
func TestSDK_AnthropicStructuredOutputLocal(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	c := anthropic.NewClient(aoption.WithBaseURL(h.url("")), aoption.WithAPIKey("x"), aoption.WithMaxRetries(0))
	for i := range 8 {
		msg, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{
			Model: anthropic.Model(localModel), MaxTokens: 120, Temperature: anthropic.Float(1),
			Messages:     []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(strings.Repeat("Weather? ", i+1)))},
			OutputConfig: anthropic.OutputConfigParam{Format: anthropic.JSONOutputFormatParam{Schema: structuredSchemaMap(t)}},
		})
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if len(msg.Content) != 1 || msg.StopReason != anthropic.StopReasonEndTurn {
			t.Fatalf("%d: %+v", i, msg)
		}
		if err := grammartest.Validate([]byte(structuredSchema), []byte(msg.Content[0].Text)); err != nil {
			t.Fatalf("%d: %q: %v", i, msg.Content[0].Text, err)
		}
	}
	resp, body := h.post("/v1/messages", `{"model":"`+localModel+`","max_tokens":60,"messages":[{"role":"user","content":"hi"}],`+
		`"output_format":{"type":"json_schema","schema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}}}`,
		"anthropic-beta", "structured-outputs-2025-11-13")
	var m struct {
		Content []struct{ Text string }
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &m) != nil || len(m.Content) != 1 {
		t.Fatalf("output_format: %d %s", resp.StatusCode, body)
	}
	if err := grammartest.Validate([]byte(`{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}`), []byte(m.Content[0].Text)); err != nil {
		t.Fatalf("output_format: %q: %v", m.Content[0].Text, err)
	}
}

// A schema outside the supported subset is a 400 invalid_request_error in
// the client's own format, naming the keyword and where it is.
func TestSDK_StructuredOutputUnsupportedSchemaLocal(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	bad := map[string]any{"type": "object", "properties": map[string]any{"when": map[string]any{"type": "string", "format": "date-time"}}}

	oc := openaigo.NewClient(option.WithBaseURL(h.url("/v1/")), option.WithAPIKey("x"), option.WithMaxRetries(0))
	_, err := oc.Chat.Completions.New(context.Background(), openaigo.ChatCompletionNewParams{
		Model: localModel, Messages: []openaigo.ChatCompletionMessageParamUnion{openaigo.UserMessage("hi")},
		ResponseFormat: openaigo.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "x", Schema: bad}}},
	})
	var oe *openaigo.Error
	if !errors.As(err, &oe) || oe.StatusCode != http.StatusBadRequest || oe.Type != "invalid_request_error" || oe.Param != "response_format" ||
		!strings.Contains(oe.Message, `"format"`) || !strings.Contains(oe.Message, "/properties/when") {
		t.Errorf("OpenAI: %v", err)
	}

	ac := anthropic.NewClient(aoption.WithBaseURL(h.url("")), aoption.WithAPIKey("x"), aoption.WithMaxRetries(0))
	_, err = ac.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: anthropic.Model(localModel), MaxTokens: 10,
		Messages:     []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
		OutputConfig: anthropic.OutputConfigParam{Format: anthropic.JSONOutputFormatParam{Schema: bad}},
	})
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !strings.Contains(ae.RawJSON(), `"invalid_request_error"`) ||
		!strings.Contains(ae.RawJSON(), "output_config.format") || !strings.Contains(ae.RawJSON(), `\"format\"`) || !strings.Contains(ae.RawJSON(), "/properties/when") {
		t.Errorf("Anthropic: %v", err)
	}
	// The beta's older top-level field is the one named when the client used it.
	resp, body := h.post("/v1/messages", `{"model":"`+localModel+`","max_tokens":10,"messages":[{"role":"user","content":"hi"}],`+
		`"output_format":{"type":"json_schema","schema":{"type":"object","not":{}}}}`, "anthropic-beta", "structured-outputs-2025-11-13")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "output_format") || strings.Contains(string(body), "output_config") {
		t.Errorf("output_format: %d %s, want a 400 naming output_format", resp.StatusCode, body)
	}
}

// The Responses API's text.format json_schema to the local engine.
func TestResponses_StructuredOutputLocal(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	schema := `{"type":"object","properties":{"n":{"type":"integer"},"s":{"enum":["a","b"]}},"required":["n","s"],"additionalProperties":false}`
	resp, body := h.post("/v1/responses", `{"model":"`+localModel+`","input":"hi","max_output_tokens":60,"temperature":1,`+
		`"text":{"format":{"type":"json_schema","name":"x","strict":true,"schema":`+schema+`}}}`)
	var r struct {
		Output []struct {
			Content []struct{ Text string }
		}
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &r) != nil || len(r.Output) != 1 || len(r.Output[0].Content) != 1 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if err := grammartest.Validate([]byte(schema), []byte(r.Output[0].Content[0].Text)); err != nil {
		t.Fatalf("%q: %v", r.Output[0].Content[0].Text, err)
	}
	resp, body = h.post("/v1/responses", `{"model":"`+localModel+`","input":"hi",`+
		`"text":{"format":{"type":"json_schema","name":"x","schema":{"type":"object","allOf":[]}}}}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"text.format"`) || !strings.Contains(string(body), "allOf") {
		t.Errorf("unsupported schema: %d %s", resp.StatusCode, body)
	}
}

// The OpenAI Go SDK's forced tool call (tool_choice required) against a
// local Hermes-family model: the arguments follow the tool's parameters
// schema on every seed.
func TestSDK_OpenAIGoForcedToolCallLocal(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "models", "test", "hermes")
	if err := testmodel.Write(model, testmodel.Spec{Architecture: "qwen2", Seed: 9}); err != nil {
		t.Fatal(err)
	}
	tpl := `{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>Answer calls as <tool_call>{"name": ..., "arguments": ...}</tool_call>{% endif %}` +
		`{% for m in messages %}<|im_start|>{{ m.role }}` + "\n" + `{{ m.content }}<|im_end|>` + "\n" + `{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant` + "\n" + `{% endif %}`
	if err := os.WriteFile(filepath.Join(model, "chat_template.jinja"), []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	e := engine.New(engine.Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 30, Backend: b})
	t.Cleanup(func() { e.Close(); b.Close() })
	h := newHarness(t, func(o *gateway.Options) { o.Local = e })
	c := openaigo.NewClient(option.WithBaseURL(h.url("/v1/")), option.WithAPIKey("x"), option.WithMaxRetries(0))
	schema := `{"type":"object","properties":{"city":{"type":"string","maxLength":20},"days":{"type":"integer"}},"required":["city","days"],"additionalProperties":false}`
	var params map[string]any
	json.Unmarshal([]byte(schema), &params)
	for seed := int64(0); seed < 8; seed++ {
		resp, err := c.Chat.Completions.New(context.Background(), openaigo.ChatCompletionNewParams{
			Model: "test/hermes", MaxCompletionTokens: openaigo.Int(80), Temperature: openaigo.Float(1), Seed: openaigo.Int(seed),
			Messages: []openaigo.ChatCompletionMessageParamUnion{openaigo.UserMessage("Weather in Oslo?")},
			Tools: []openaigo.ChatCompletionToolUnionParam{openaigo.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
				Name: "get_weather", Parameters: shared.FunctionParameters(params)})},
			ToolChoice: openaigo.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openaigo.String("required")},
		})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		ch := resp.Choices[0]
		if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) == 0 || ch.Message.ToolCalls[0].Function.Name != "get_weather" {
			t.Fatalf("seed %d: %+v", seed, ch)
		}
		if err := grammartest.Validate([]byte(schema), []byte(ch.Message.ToolCalls[0].Function.Arguments)); err != nil {
			t.Fatalf("seed %d: %s: %v", seed, ch.Message.ToolCalls[0].Function.Arguments, err)
		}
	}
}

// An output format together with a forced tool call (tool_choice
// required, a named tool, Anthropic's any) is a 400 naming the output
// field in the client's format: the answer cannot be both. With the
// choice left to the model the answer is the JSON, and the tools, which
// cannot be called, are named as dropped.
func TestLocal_StructuredOutputWithForcedToolCall(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	const tool = `{"type":"function","function":{"name":"get","parameters":{"type":"object"}}}`
	const format = `"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}}`
	const atool = `{"name":"get","input_schema":{"type":"object"}}`
	const aformat = `"output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}}`
	for _, c := range []struct{ path, body, param string }{
		{"/v1/chat/completions", `{"model":"` + localModel + `","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"tools":[` + tool + `],"tool_choice":"required",` + format + `}`, `"param":"response_format"`},
		{"/v1/chat/completions", `{"model":"` + localModel + `","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"tools":[` + tool + `],"tool_choice":{"type":"function","function":{"name":"get"}},` + format + `}`, `"param":"response_format"`},
		{"/v1/messages", `{"model":"` + localModel + `","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"tools":[` + atool + `],"tool_choice":{"type":"any"},` + aformat + `}`, "output_config.format"},
	} {
		resp, got := h.post(c.path, c.body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), "invalid_request_error") || !strings.Contains(string(got), c.param) ||
			!strings.Contains(string(got), "tool_choice") {
			t.Errorf("%s: %d %s, want a 400 naming %s and tool_choice", c.body, resp.StatusCode, got, c.param)
		}
	}
	resp, got := h.post("/v1/chat/completions", `{"model":"`+localModel+`","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"tools":[`+tool+`],`+format+`}`)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Dropped") != "tools" {
		t.Errorf("tool_choice auto: %d, dropped %q: %s", resp.StatusCode, resp.Header.Get("X-Modelbar-Dropped"), got)
	}
}
