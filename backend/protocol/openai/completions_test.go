package openai

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

func TestDecodeCompletionRequest(t *testing.T) {
	got, err := DecodeCompletionRequest([]byte(`{"model":"m","prompt":["def f("],"stop":"\n\n","temperature":0.2,"stream":true,"stream_options":{"include_usage":true},"n":1,"echo":false}`))
	if err != nil {
		t.Fatal(err)
	}
	temp := 0.2
	want := CompletionRequest{Model: "m", Prompt: "def f(", MaxTokens: 16, Temperature: &temp, Stop: []string{"\n\n"}, Stream: true, IncludeUsage: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for body, param := range map[string]string{
		`{"model":"m"}`:                             "prompt",
		`{"model":"m","prompt":[1,2,3]}`:            "prompt",
		`{"model":"m","prompt":["a","b"]}`:          "prompt",
		`{"model":"m","prompt":"x","suffix":"y"}`:   "suffix",
		`{"model":"m","prompt":"x","n":2}`:          "n",
		`{"model":"m","prompt":"x","max_tokens":0}`: "max_tokens",
		`{"model":"m","prompt":"x","echo":true}`:    "echo",
		`{"prompt":"x"}`:                            "model",
	} {
		_, err := DecodeCompletionRequest([]byte(body))
		var re *protocol.RequestError
		if !errors.As(err, &re) || re.Param != param {
			t.Errorf("%s: %v, want a RequestError on %s", body, err, param)
		}
	}
}

func TestCompletionObjects(t *testing.T) {
	var whole map[string]any
	if err := json.Unmarshal(CompletionResponse("cmpl-1", "m", 7, "hello", "stop", protocol.Usage{InputTokens: 3, OutputTokens: 2}), &whole); err != nil {
		t.Fatal(err)
	}
	if whole["object"] != "text_completion" || whole["choices"].([]any)[0].(map[string]any)["text"] != "hello" ||
		whole["usage"].(map[string]any)["total_tokens"].(float64) != 5 {
		t.Errorf("response %v", whole)
	}
	chunk := string(CompletionChunk("cmpl-1", "m", 7, "he", ""))
	if !strings.HasPrefix(chunk, "data: {") || !strings.Contains(chunk, `"finish_reason":null`) || !strings.HasSuffix(chunk, "\n\n") {
		t.Errorf("chunk %q", chunk)
	}
}
