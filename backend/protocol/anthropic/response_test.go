package anthropic

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

func TestDecodeMessagesResponse_Golden(t *testing.T) {
	for name, path := range inputs(t, "responses", ".json") {
		t.Run(name, func(t *testing.T) {
			res, err := DecodeMessagesResponse(readFile(t, path))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkGolden(t, strings.TrimSuffix(path, ".json")+".golden", render(t, res))
		})
	}
}

func TestEncodeMessagesResponse_Golden(t *testing.T) {
	for name, path := range inputs(t, "encode_responses", ".json") {
		t.Run(name, func(t *testing.T) {
			var res protocol.Response
			if err := json.Unmarshal(readFile(t, path), &res); err != nil {
				t.Fatal(err)
			}
			body, err := EncodeMessagesResponse(res)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			checkGolden(t, strings.TrimSuffix(path, ".json")+".golden", indentJSON(t, body))
		})
	}
}

// TestResponse_RoundTrip: every stop reason, stop sequences and usage with
// cache tokens survive encode then decode.
func TestResponse_RoundTrip(t *testing.T) {
	reasons := []protocol.StopReason{
		protocol.StopEndTurn, protocol.StopMaxTokens, protocol.StopSequence, protocol.StopToolUse,
		protocol.StopRefusal, protocol.StopPauseTurn, "model_context_window_exceeded",
	}
	for _, reason := range reasons {
		t.Run(string(reason), func(t *testing.T) {
			want := protocol.Response{
				ID: "msg_1", Model: "m", StopReason: reason,
				Content: []protocol.Block{
					{Type: protocol.BlockThinking, Text: "hmm", Signature: "sig"},
					{Type: protocol.BlockRedactedThinking, Signature: "opaque"},
					{Type: protocol.BlockText, Text: "answer"},
					{Type: protocol.BlockToolUse, ID: "toolu_1", Name: "f", Input: json.RawMessage(`{"a":[1,{"b":null}]}`)},
				},
				Usage: protocol.Usage{InputTokens: 1, OutputTokens: 2, CacheReadTokens: 3, CacheWriteTokens: 4},
			}
			if reason == protocol.StopSequence {
				want.StopSequence = "###"
			}
			body, err := EncodeMessagesResponse(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeMessagesResponse(body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeMessagesResponse_Errors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"error body", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, "overloaded_error: Overloaded"},
		{"other type", `{"type":"completion","completion":"hi"}`, `type "completion"`},
		{"OpenAI body", `{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`, `type ""`},
		{"not JSON", `<html>502</html>`, "messages response"},
		{"bad block", `{"type":"message","content":[{"type":"text","text":5}]}`, "content.0"},
		{"content not an array", `{"type":"message","content":"hi"}`, "messages response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMessagesResponse([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestEncodeMessagesResponse_Errors(t *testing.T) {
	for name, b := range map[string]protocol.Block{
		"tool input not an object": {Type: protocol.BlockToolUse, ID: "c", Name: "f", Input: json.RawMessage(`"{\"a\":1}"`)},
		"tool input broken":        {Type: protocol.BlockToolUse, ID: "c", Name: "f", Input: json.RawMessage(`{"a":`)},
		"image":                    {Type: protocol.BlockImage, Image: &protocol.Image{URL: "https://x"}},
	} {
		if _, err := EncodeMessagesResponse(protocol.Response{Content: []protocol.Block{b}}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
