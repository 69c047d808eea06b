package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/modelbar/modelbar/backend/protocol"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// testdata/streams_out: internal events → the OpenAI stream.
func TestStreamEncoder_Golden(t *testing.T) {
	goldenCases(t, "streams_out", ".json", func(t *testing.T, in []byte, golden string) {
		var tc struct {
			IncludeUsage bool
			Created      int64
			Events       []protocol.Event
		}
		loadJSON(t, in, &tc)
		enc := NewStreamEncoder(tc.IncludeUsage, tc.Created)
		var out []byte
		for _, ev := range tc.Events {
			b := enc.Encode(ev)
			checkWholeEvents(t, b)
			out = append(out, b...)
		}
		checkGolden(t, golden, out)
	})
}

// checkWholeEvents asserts that one Encode call's output is whole SSE
// events, each a data line of JSON or [DONE].
func checkWholeEvents(t *testing.T, b []byte) {
	t.Helper()
	if len(b) == 0 {
		return
	}
	if !bytes.HasSuffix(b, []byte("\n\n")) {
		t.Errorf("output does not end an event: %q", b)
	}
	for _, ev := range bytes.Split(bytes.TrimSuffix(b, []byte("\n\n")), []byte("\n\n")) {
		data, ok := bytes.CutPrefix(ev, []byte("data: "))
		if !ok || bytes.Contains(data, []byte("\n")) || (string(data) != "[DONE]" && !json.Valid(data)) {
			t.Errorf("not a whole data event: %q", ev)
		}
	}
}

func TestStreamEncoder_NothingAfterTheEnd(t *testing.T) {
	for _, end := range []protocol.Event{
		{Type: protocol.EventStop, StopReason: protocol.StopEndTurn},
		{Type: protocol.EventError, Err: &protocol.StreamError{Type: "overloaded_error", Message: "busy"}},
	} {
		enc := NewStreamEncoder(true, 1)
		enc.Encode(protocol.Event{Type: protocol.EventStart, ID: "x", Model: "m"})
		last := enc.Encode(end)
		if end.Type == protocol.EventError && !IsError(last) {
			t.Errorf("error event %q", last)
		}
		if out := enc.Encode(protocol.Event{Type: protocol.EventDelta, DeltaType: protocol.DeltaText, Delta: "late"}); out != nil {
			t.Errorf("after %s: %q", end.Type, out)
		}
	}
}
