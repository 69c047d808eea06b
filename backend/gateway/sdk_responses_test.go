package gateway_test

import (
	"context"
	"net/http"
	"testing"

	openaigo "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// openai-go's Responses client against each kind of upstream, translated:
// text, streamed text and a function tool round trip.
func TestSDK_OpenAIGoResponses(t *testing.T) {
	for _, kind := range wireKinds {
		t.Run(string(kind)+" provider", func(t *testing.T) {
			env := func(t *testing.T) *sdkEnv {
				e := newSDKEnv(t, kind)
				if kind == wireOpenAI {
					e.h.mustAdmin(http.MethodPut, "/api/providers/"+e.backend, map[string]any{"responses": "no"}, http.StatusOK)
				}
				return e
			}
			t.Run("text", func(t *testing.T) {
				e := env(t)
				r, err := responsesClient(e).New(context.Background(), responsesParams(modelText, textQuestion))
				if err != nil {
					t.Fatal(err)
				}
				if r.OutputText() != textAnswer || r.Status != "completed" || r.Usage.OutputTokens == 0 {
					t.Errorf("response %s", r.RawJSON())
				}
				e.checkBackend(t, 1)
			})
			t.Run("text stream", func(t *testing.T) {
				e := env(t)
				stream := responsesClient(e).NewStreaming(context.Background(), responsesParams(modelText, textQuestion))
				var text, done string
				var completed bool
				for stream.Next() {
					ev := stream.Current()
					switch ev.Type {
					case "response.output_text.delta":
						text += ev.Delta
					case "response.output_text.done":
						done = ev.Text
					case "response.completed":
						completed = ev.Response.OutputText() == textAnswer
					}
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
				if text != textAnswer || done != textAnswer || !completed {
					t.Errorf("deltas %q, done %q, completed %v", text, done, completed)
				}
			})
			t.Run("tools", func(t *testing.T) {
				e := env(t)
				c := responsesClient(e)
				p := responsesParams(modelTools, toolsQuestion)
				p.Tools = []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", weatherSchema, false)}
				r, err := c.New(context.Background(), p)
				if err != nil {
					t.Fatal(err)
				}
				history := p.Input.OfInputItemList
				var calls int
				for i, item := range r.Output {
					if item.Type != "function_call" {
						continue
					}
					call := item.AsFunctionCall()
					if call.Name != "get_weather" || call.Arguments != weatherCalls[calls].args {
						t.Errorf("call %d: %s", i, item.RawJSON())
					}
					history = append(history, responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name))
					out := responses.ResponseInputItemParamOfFunctionCallOutput(weatherCalls[calls].result)
					out.OfFunctionCallOutput.CallID = openaigo.String(call.CallID)
					history = append(history, out)
					calls++
				}
				if calls != len(weatherCalls) {
					t.Fatalf("%d calls: %s", calls, r.RawJSON())
				}
				p.Input.OfInputItemList = history
				r, err = c.New(context.Background(), p)
				if err != nil {
					t.Fatal(err)
				}
				if r.OutputText() != toolsAnswer {
					t.Errorf("answer %s", r.RawJSON())
				}
			})
		})
	}
}

// The local engine completes a Responses exchange, whole and streamed.
func TestLocal_AnswersResponses(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	svc := responses.NewResponseService(option.WithBaseURL(h.url("/v1/")), option.WithAPIKey("x"), option.WithMaxRetries(0))
	c := &svc
	p := responsesParams(localModel, "Say hi")
	p.MaxOutputTokens = openaigo.Int(8)
	r, err := c.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "completed" && r.Status != "incomplete" || r.Usage.OutputTokens == 0 {
		t.Errorf("response %s", r.RawJSON())
	}
	stream := c.NewStreaming(context.Background(), p)
	var last string
	for stream.Next() {
		last = stream.Current().Type
	}
	if err := stream.Err(); err != nil || (last != "response.completed" && last != "response.incomplete") {
		t.Errorf("stream ended with %q, %v", last, err)
	}
}

func responsesClient(e *sdkEnv) *responses.ResponseService {
	c := responses.NewResponseService(option.WithBaseURL(e.h.url("/v1/")), option.WithAPIKey("x"),
		option.WithMaxRetries(0), option.WithHTTPClient(e.http))
	return &c
}

func responsesParams(model, question string) responses.ResponseNewParams {
	return responses.ResponseNewParams{
		Model:        model,
		Instructions: openaigo.String(systemPrompt),
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage(question, responses.EasyInputMessageRoleUser)}},
		Store: openaigo.Bool(false),
	}
}
