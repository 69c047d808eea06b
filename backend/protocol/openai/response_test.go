package openai

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

// testdata/responses: a chat.completion → the decoded protocol.Response.
func TestDecodeChatResponse_Golden(t *testing.T) {
	goldenCases(t, "responses", ".json", func(t *testing.T, in []byte, golden string) {
		res, err := DecodeChatResponse(in)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, golden, render(t, res))
	})
}

// testdata/responses_out: a protocol.Response → the chat.completion.
func TestEncodeChatResponse_Golden(t *testing.T) {
	goldenCases(t, "responses_out", ".json", func(t *testing.T, in []byte, golden string) {
		var res protocol.Response
		loadJSON(t, in, &res)
		body, err := EncodeChatResponse(res)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, golden, indentJSON(t, body))
	})
}

func TestDecodeChatResponse_Errors(t *testing.T) {
	for name, body := range map[string]string{
		"empty":          ``,
		"not JSON":       `<html>502 Bad Gateway</html>`,
		"an array":       `[]`,
		"null":           `null`,
		"no choices":     `{"id":"x","object":"chat.completion","choices":[]}`,
		"no message":     `{"id":"x","choices":[{"index":0,"finish_reason":"stop"}]}`,
		"an error":       `{"error":{"message":"model overloaded","type":"server_error"}}`,
		"a string error": `{"error":"upstream timeout"}`,
		"wrong types":    `{"id":"x","choices":[{"index":0,"message":{"content":"hi","tool_calls":{}}}]}`,
	} {
		if _, err := DecodeChatResponse([]byte(body)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Every finish_reason, both ways.
func TestStopReasons(t *testing.T) {
	decode := []struct {
		finish  string
		extra   string // more fields of the choice
		toolUse bool
		want    protocol.StopReason
		seq     string
	}{
		{"stop", ``, false, protocol.StopEndTurn, ""},
		{"length", ``, false, protocol.StopMaxTokens, ""},
		{"tool_calls", ``, true, protocol.StopToolUse, ""},
		{"function_call", ``, true, protocol.StopToolUse, ""},
		{"content_filter", ``, false, protocol.StopRefusal, ""},
		{"stop", `,"stop_reason":"END"`, false, protocol.StopSequence, "END"},
		{"stop", `,"stop_reason":128001`, false, protocol.StopEndTurn, ""},
		{"stop", ``, true, protocol.StopToolUse, ""},
		{"", ``, false, protocol.StopEndTurn, ""},
		{"insufficient_system_resource", ``, false, protocol.StopEndTurn, ""},
		{"length", ``, true, protocol.StopMaxTokens, ""},
	}
	for _, tt := range decode {
		var c choiceIn
		if err := json.Unmarshal([]byte(`{"finish_reason":"`+tt.finish+`"`+tt.extra+`}`), &c); err != nil {
			t.Fatal(err)
		}
		if got, seq := stopReason(c, tt.toolUse); got != tt.want || seq != tt.seq {
			t.Errorf("finish_reason %q%s toolUse=%v: %q %q, want %q %q", tt.finish, tt.extra, tt.toolUse, got, seq, tt.want, tt.seq)
		}
	}
	encode := map[protocol.StopReason]string{
		protocol.StopEndTurn: "stop", protocol.StopSequence: "stop", protocol.StopPauseTurn: "stop",
		protocol.StopMaxTokens: "length", protocol.StopToolUse: "tool_calls", protocol.StopRefusal: "content_filter", "": "stop",
	}
	for reason, want := range encode {
		if got := finishReason(reason); got != want {
			t.Errorf("finishReason(%q) = %q, want %q", reason, got, want)
		}
	}
}

func TestUsage_RoundTrip(t *testing.T) {
	u := protocol.Usage{InputTokens: 100, OutputTokens: 50, CacheReadTokens: 900, ReasoningTokens: 20}
	out := usageOut(u)
	want := usageIO{PromptTokens: 1000, CompletionTokens: 50, TotalTokens: 1050,
		PromptTokensDetails: &promptDetails{CachedTokens: 900}, CompletionTokensDetails: &completionDetails{ReasoningTokens: 20}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("usageOut (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(u, usageFrom(out)); diff != "" {
		t.Errorf("usageFrom (-want +got):\n%s", diff)
	}
	// Cache writes count in prompt_tokens but OpenAI cannot name them;
	// cached_tokens is there, 0, as OpenAI always sends it.
	w := usageOut(protocol.Usage{InputTokens: 10, CacheWriteTokens: 5, OutputTokens: 1})
	if w.PromptTokens != 15 || w.TotalTokens != 16 || w.PromptTokensDetails == nil || w.PromptTokensDetails.CachedTokens != 0 {
		t.Errorf("cache writes: %+v", w)
	}
}

// Nothing reused is reported as OpenAI reports it, prompt_tokens_details
// {"cached_tokens": 0}, in chat completions (whole and in the usage chunk)
// and completions: clients read the count unguarded from the first turn.
func TestUsageOut_CachedTokensZeroIsWritten(t *testing.T) {
	u := protocol.Usage{InputTokens: 7, OutputTokens: 2}
	chat, err := EncodeChatResponse(protocol.Response{ID: "c", Model: "m", Created: 1, Usage: u, StopReason: protocol.StopEndTurn})
	if err != nil {
		t.Fatal(err)
	}
	enc := NewStreamEncoder(true, 1)
	var stream []byte
	for _, ev := range []protocol.Event{{Type: protocol.EventStart, ID: "c", Model: "m"}, {Type: protocol.EventStop, StopReason: protocol.StopEndTurn, Usage: u}} {
		stream = append(stream, enc.Encode(ev)...)
	}
	docs := map[string][]byte{"chat": chat, "chat stream": stream, "completions usage chunk": CompletionUsageChunk("c", "m", 1, u)}
	for name, doc := range docs {
		if want := `"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9,"prompt_tokens_details":{"cached_tokens":0}}`; !bytes.Contains(doc, []byte(want)) {
			t.Errorf("%s: no %s in\n%s", name, want, doc)
		}
	}
}

// A response without a created time (the Anthropic API has none) gets one.
func TestEncodeChatResponse_Created(t *testing.T) {
	body, err := EncodeChatResponse(protocol.Response{ID: "msg_1", Model: "m", StopReason: protocol.StopEndTurn})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Created int64 }
	if err := json.Unmarshal(body, &doc); err != nil || doc.Created < 1_700_000_000 {
		t.Errorf("created %d in %s", doc.Created, body)
	}
}
