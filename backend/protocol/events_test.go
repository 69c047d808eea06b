package protocol

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResponseEvents_CarryTheWholeResponse(t *testing.T) {
	r := Response{
		ID: "msg_1", Model: "m",
		Content: []Block{
			{Type: BlockThinking, Text: "hmm", Signature: "sig"},
			{Type: BlockText, Text: "Hello"},
			{Type: BlockToolUse, ID: "call_1", Name: "get", Input: json.RawMessage(`{"a":1}`)},
			{Type: BlockToolUse, ID: "call_2", Name: "noargs"},
		},
		StopReason: StopToolUse,
		Usage:      Usage{InputTokens: 10, OutputTokens: 5, CacheReadTokens: 2},
	}
	want := []Event{
		{Type: EventStart, ID: "msg_1", Model: "m", Usage: Usage{InputTokens: 10, CacheReadTokens: 2}},
		{Type: EventBlockStart, Index: 0, Block: &Block{Type: BlockThinking}},
		{Type: EventDelta, Index: 0, DeltaType: DeltaThinking, Delta: "hmm"},
		{Type: EventDelta, Index: 0, DeltaType: DeltaSignature, Delta: "sig"},
		{Type: EventBlockStop, Index: 0},
		{Type: EventBlockStart, Index: 1, Block: &Block{Type: BlockText}},
		{Type: EventDelta, Index: 1, DeltaType: DeltaText, Delta: "Hello"},
		{Type: EventBlockStop, Index: 1},
		{Type: EventBlockStart, Index: 2, Block: &Block{Type: BlockToolUse, ID: "call_1", Name: "get"}},
		{Type: EventDelta, Index: 2, DeltaType: DeltaInputJSON, Delta: `{"a":1}`},
		{Type: EventBlockStop, Index: 2},
		{Type: EventBlockStart, Index: 3, Block: &Block{Type: BlockToolUse, ID: "call_2", Name: "noargs"}},
		{Type: EventDelta, Index: 3, DeltaType: DeltaInputJSON, Delta: `{}`},
		{Type: EventBlockStop, Index: 3},
		{Type: EventStop, StopReason: StopToolUse, Usage: Usage{InputTokens: 10, OutputTokens: 5, CacheReadTokens: 2}},
	}
	if diff := cmp.Diff(want, ResponseEvents(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAggregate_InvertsResponseEvents(t *testing.T) {
	r := Response{
		ID: "msg_1", Model: "m",
		Content: []Block{
			{Type: BlockThinking, Text: "hmm", Signature: "sig"},
			{Type: BlockText, Text: "Hello"},
			{Type: BlockToolUse, ID: "call_1", Name: "get", Input: json.RawMessage(`{"a":1}`)},
		},
		StopReason: StopToolUse,
		Usage:      Usage{InputTokens: 10, OutputTokens: 5},
	}
	got, err := Aggregate(ResponseEvents(r))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := Aggregate([]Event{{Type: EventError, Err: &StreamError{Type: "x", Message: "boom"}}}); err == nil {
		t.Error("an error event aggregated without error")
	}
}
