package anthropic

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/protocol"
)

func TestStreamEncoder_Golden(t *testing.T) {
	for name, path := range inputs(t, "encode_streams", ".json") {
		t.Run(name, func(t *testing.T) {
			var evs []protocol.Event
			if err := json.Unmarshal(readFile(t, path), &evs); err != nil {
				t.Fatal(err)
			}
			sse := encodeStream(evs)
			checkSSE(t, sse)
			checkGolden(t, strings.TrimSuffix(path, ".json")+".sse", sse)
		})
	}
}

// checkSSE checks that sse is whole events, each "event: X" and one data
// line holding a JSON object whose type is X, and that our own decoder
// reads them without error into a well-formed sequence.
func checkSSE(t *testing.T, sse []byte) {
	t.Helper()
	r := protocol.NewEventReader(bytes.NewReader(sse))
	d := NewStreamDecoder()
	var all []protocol.Event
	for {
		raw, err := r.Next()
		if err != nil {
			if !bytes.HasSuffix(sse, []byte("\n\n")) && len(sse) > 0 {
				t.Errorf("output does not end with a whole event: %v", err)
			}
			break
		}
		var payload struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(protocol.EventData(raw), &payload); err != nil || payload.Type != protocol.EventName(raw) {
			t.Errorf("event %q: data type %q, %v", protocol.EventName(raw), payload.Type, err)
		}
		evs, err := d.Decode(raw)
		if err != nil {
			t.Fatalf("our decoder refuses our encoder's event %q: %v", raw, err)
		}
		all = append(all, evs...)
	}
	if err := wellFormed(all, false); err != nil {
		t.Errorf("decoded events are ill-formed: %v", err)
	}
}

func TestStreamEncoder_NothingAfterTheEnd(t *testing.T) {
	for _, last := range []protocol.Event{
		{Type: protocol.EventStop, StopReason: protocol.StopEndTurn},
		{Type: protocol.EventError, Err: &protocol.StreamError{Type: "overloaded_error", Message: "Overloaded"}},
		{Type: protocol.EventError},
	} {
		e := NewStreamEncoder()
		e.Encode(protocol.Event{Type: protocol.EventStart, ID: "m"})
		out := e.Encode(last)
		if last.Type == protocol.EventError && !IsError(out) {
			t.Errorf("EventError gave %q, not an error event", out)
		}
		for _, ev := range []protocol.Event{
			{Type: protocol.EventStart}, {Type: protocol.EventBlockStart, Block: &protocol.Block{Type: protocol.BlockText}},
			{Type: protocol.EventDelta, DeltaType: protocol.DeltaText, Delta: "x"}, {Type: protocol.EventStop}, {Type: protocol.EventError},
		} {
			if out := e.Encode(ev); out != nil {
				t.Errorf("after %s: %s wrote %q", last.Type, ev.Type, out)
			}
		}
	}
}

func TestStreamEncoder_ErrorTypeDefault(t *testing.T) {
	out := NewStreamEncoder().Encode(protocol.Event{Type: protocol.EventError, Err: &protocol.StreamError{Message: "boom"}})
	evs, err := NewStreamDecoder().Decode(out)
	if err != nil || len(evs) != 1 || evs[0].Err.Type != "api_error" || evs[0].Err.Message != "boom" {
		t.Errorf("got %+v, %v from %q", evs, err, out)
	}
}
