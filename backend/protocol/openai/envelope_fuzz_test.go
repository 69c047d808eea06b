package openai

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

var endpoints = []Endpoint{ChatCompletions, Completions, Embeddings}

// FuzzParseEnvelope: for every endpoint, a body is refused with a
// *protocol.RequestError or gives a non-empty model; endpoints that all
// accept a body agree on its envelope; and the envelope is no stricter than
// the full decoders behind it: a body DecodeChatRequest (or
// DecodeCompletionRequest) accepts, ParseEnvelope accepts for that endpoint,
// with the same model, stream and include_usage.
func FuzzParseEnvelope(f *testing.F) {
	addSeeds(f, "testdata/requests/*.json")
	for _, s := range []string{
		`{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"m","prompt":"def f(","suffix":"\n","stream_options":null}`,
		`{"model":"m","input":["a"],"prompt":["x"],"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":{},"stream":"yes","stream_options":[]}`,
		`{"model":"","prompt":null,"input":null}`,
		`[]`, ``, `{"model":"m",`, ` {"model":"\u00e9","prompt":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		envs := map[Endpoint]Envelope{}
		for _, ep := range endpoints {
			env, err := ParseEnvelope(ep, body)
			if err != nil {
				requestError(t, err)
				continue
			}
			if env.Model == "" {
				t.Fatalf("%s: accepted with an empty model", ep)
			}
			envs[ep] = env
		}
		for _, ep := range endpoints[1:] {
			if a, ok := envs[ep]; ok {
				if b, ok := envs[ChatCompletions]; ok && a != b {
					t.Fatalf("%s and %s disagree: %+v, %+v", ChatCompletions, ep, b, a)
				}
			}
		}
		if req, err := DecodeChatRequest(body); err == nil {
			want := Envelope{Model: req.Model, Stream: req.Stream, IncludeUsage: req.IncludeUsage}
			checkEnvelope(t, ChatCompletions, body, want)
		}
		if req, err := DecodeCompletionRequest(body); err == nil {
			want := Envelope{Model: req.Model, Stream: req.Stream, IncludeUsage: req.IncludeUsage}
			checkEnvelope(t, Completions, body, want)
		}
	})
}

func checkEnvelope(t *testing.T, ep Endpoint, body []byte, want Envelope) {
	t.Helper()
	got, err := ParseEnvelope(ep, body)
	if err != nil {
		t.Fatalf("%s: the full decoder accepts what the envelope refuses (%v):\n%s", ep, err, body)
	}
	if got != want {
		t.Fatalf("%s: envelope %+v, the full decoder says %+v", ep, got, want)
	}
}

func requestError(t *testing.T, err error) *protocol.RequestError {
	t.Helper()
	var re *protocol.RequestError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is a %T, not a *protocol.RequestError", err, err)
	}
	return re
}

// completionParams are the fields DecodeCompletionRequest can name in an
// error ("" for the body as a whole).
var completionParams = []string{"", "model", "prompt", "max_tokens", "temperature", "top_p", "stop", "seed",
	"stream", "stream_options", "n", "echo", "best_of", "logprobs", "suffix"}

// FuzzDecodeCompletionRequest: a completions body is refused with a
// *protocol.RequestError naming one of its fields, or decodes to a request
// within the documented bounds (a model, max_tokens in [1, 2^30] with 16 by
// default, temperature in [0, 2], top_p in [0, 1], no empty stop string);
// and a text_completion rendered from the prompt is valid JSON that
// carries it.
func FuzzDecodeCompletionRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","prompt":["def f("],"stop":"\n\n","temperature":0.2,"stream":true,"stream_options":{"include_usage":true},"n":1,"echo":false}`,
		`{"model":"m","prompt":"x","max_tokens":1073741824,"top_p":1,"seed":-3,"stop":["", "END"],"best_of":1,"logprobs":0,"suffix":""}`,
		`{"model":"m","prompt":[1,2,3]}`,
		`{"model":"m","prompt":["a","b"]}`,
		`{"model":"m","prompt":"x","suffix":"y","n":2,"echo":true}`,
		`{"model":"m","prompt":"x","max_tokens":0,"temperature":2.5,"seed":1.5}`,
		`{"model":"m","prompt":null}`,
		`{"prompt":"x","stream_options":"yes"}`,
		`{"model":"m","prompt":"\u003c/s\u003e\ud800","stop":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeCompletionRequest(body)
		if err != nil {
			if re := requestError(t, err); !slices.Contains(completionParams, re.Param) {
				t.Fatalf("error names %q, not a completions field: %v", re.Param, err)
			}
			return
		}
		switch {
		case req.Model == "":
			t.Fatalf("accepted with an empty model")
		case req.MaxTokens < 1 || req.MaxTokens > 1<<30:
			t.Fatalf("max_tokens %d", req.MaxTokens)
		case req.Temperature != nil && !(*req.Temperature >= 0 && *req.Temperature <= 2):
			t.Fatalf("temperature %v", *req.Temperature)
		case req.TopP != nil && !(*req.TopP >= 0 && *req.TopP <= 1):
			t.Fatalf("top_p %v", *req.TopP)
		case slices.Contains(req.Stop, ""):
			t.Fatalf("an empty stop string in %q", req.Stop)
		}
		var doc struct {
			Choices []struct {
				Text string `json:"text"`
			} `json:"choices"`
		}
		out := CompletionResponse("cmpl-1", req.Model, 1, req.Prompt, "stop", protocol.Usage{})
		if err := json.Unmarshal(out, &doc); err != nil || len(doc.Choices) != 1 || doc.Choices[0].Text != req.Prompt {
			t.Fatalf("text_completion %s does not carry the prompt %q: %v", out, req.Prompt, err)
		}
	})
}

// FuzzDecodeChatResponse: whatever a backend answers, DecodeChatResponse
// either fails (with a zero Response) or gives an answer that
// EncodeChatResponse turns into valid JSON, which decodes again to the same
// answer up to what the chat.completion format normalizes: text blocks
// joined by a blank line (a refusal with them), stop_sequence read back as
// end_turn, end_turn with tool calls as tool_use, tool arguments compacted
// (see toolArguments), invalid UTF-8 replaced, and (for negative counts
// only) usage. That
// second answer is a fixed point: encoding and decoding it changes nothing.
func FuzzDecodeChatResponse(f *testing.F) {
	addSeeds(f, "testdata/responses/*.json")
	for _, s := range []string{
		`{"id":"x","choices":[{"index":0,"message":{"content":[{"type":"text","text":"a"},{"type":"image"},{"type":"text","text":"b"}],"refusal":"no"},"finish_reason":"stop","stop_reason":"END"}]}`,
		`{"id":"x","created":-1,"choices":[{"message":{"reasoning":"r","tool_calls":[{"function":{"name":"f","arguments":{"a": 1}}},{"id":"c","function":{"arguments":"[1]"}}]},"finish_reason":"weird"}],"usage":{"prompt_tokens":3,"prompt_cache_hit_tokens":5,"completion_tokens":-1}}`,
		`{"choices":[{"message":{"function_call":{"name":"g","arguments":"{\"_invalid_arguments\":\"{}\"}"}},"finish_reason":"function_call"}]}`,
		`{"choices":[{"message":{"tool_calls":[{"function":{"arguments":"{\"_invalid_arguments\":\"  \"}"}}]}}]}`,
		`{"error":"upstream timeout"}`, `{"error":{"message":1}}`, `[]`, `null`,
		`{"choices":[{"message":{"content":"hi","tool_calls":{}}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r1, err := DecodeChatResponse(body)
		if err != nil {
			if diff := cmp.Diff(protocol.Response{}, r1); diff != "" {
				t.Fatalf("an error (%v) and a response:\n%s", err, diff)
			}
			return
		}
		r2 := reencodeResponse(t, r1)
		compareResponses(t, r1, r2)
		r3 := reencodeResponse(t, r2)
		if diff := cmp.Diff(r2, r3); diff != "" {
			t.Fatalf("not a fixed point after one round trip (-once +twice):\n%s", diff)
		}
	})
}

func reencodeResponse(t *testing.T, r protocol.Response) protocol.Response {
	t.Helper()
	out, err := EncodeChatResponse(r)
	if err != nil {
		t.Fatalf("encode %+v: %v", r, err)
	}
	if !json.Valid(out) {
		t.Fatalf("encoded response is not JSON: %s", out)
	}
	again, err := DecodeChatResponse(out)
	if err != nil {
		t.Fatalf("our own chat.completion does not decode: %v\n%s", err, out)
	}
	return again
}

// compareResponses checks that r2, r1 encoded and decoded, says what r1
// says, in the chat.completion's normal form.
func compareResponses(t *testing.T, r1, r2 protocol.Response) {
	t.Helper()
	want := normalForm(r1)
	got := normalForm(r2)
	if r1.Created == 0 {
		got.Created = 0 // the encoder writes the current time
	}
	if !usageKnown(r1.Usage) {
		got.Usage = want.Usage
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("round trip (-decoded +re-decoded):\n%s", diff)
	}
}

type responseForm struct {
	ID, Model, Text, Thinking string
	Tools                     [][3]string // ID, name, arguments text
	StopReason                protocol.StopReason
	Usage                     protocol.Usage
	Created                   int64
}

func normalForm(r protocol.Response) responseForm {
	var texts, thinking []string
	form := responseForm{ID: r.ID, Model: r.Model, StopReason: r.StopReason, Usage: r.Usage, Created: r.Created}
	for _, b := range r.Content {
		switch b.Type {
		case protocol.BlockText:
			texts = append(texts, b.Text)
		case protocol.BlockThinking:
			thinking = append(thinking, b.Text)
		case protocol.BlockToolUse:
			form.Tools = append(form.Tools, [3]string{b.ID, b.Name, toolArguments(b.Input)})
		}
	}
	form.Text, form.Thinking = joinStrings(texts), joinStrings(thinking)
	switch {
	case form.StopReason == protocol.StopSequence:
		form.StopReason = protocol.StopEndTurn
	case form.StopReason == protocol.StopEndTurn && len(form.Tools) > 0:
		form.StopReason = protocol.StopToolUse
	}
	return form
}

// toolArguments is the arguments text of a tool call as it reads after a
// round trip. Arguments that are themselves an object of the one key
// "_invalid_arguments" are indistinguishable from modelArguments' stand-in:
// its value, read back as arguments, is normalized once more (whitespace
// around an object trimmed, "  " read as {}).
func toolArguments(input json.RawMessage) string {
	return validUTF8(argumentsText(modelArguments(argumentsText(input))))
}

// validUTF8 replaces each invalid byte as encoding/json does.
func validUTF8(s string) string { return string([]rune(s)) }

func usageKnown(u protocol.Usage) bool {
	return u.InputTokens >= 0 && u.OutputTokens >= 0 && u.CacheReadTokens >= 0 && u.CacheWriteTokens >= 0 &&
		u.ReasoningTokens >= 0
}
