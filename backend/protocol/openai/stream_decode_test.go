package openai

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/modelbar/modelbar/backend/protocol"
)

// decodeStream feeds an SSE stream to a StreamDecoder as the gateway does:
// event by event, then Finish; it stops at the first error.
func decodeStream(sse []byte) ([]protocol.Event, error) {
	d := NewStreamDecoder()
	events := protocol.NewEventReader(bytes.NewReader(sse))
	var all []protocol.Event
	for {
		raw, err := events.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			evs, err := d.Finish()
			return append(all, evs...), err
		}
		if err != nil {
			return all, err
		}
		evs, err := d.Decode(raw)
		all = append(all, evs...)
		if err != nil {
			return all, err
		}
	}
}

// testdata/streams: a recorded-style OpenAI stream → internal events, one
// per line, and the error that ended it, if any.
func TestStreamDecoder_Golden(t *testing.T) {
	goldenCases(t, "streams", ".sse", func(t *testing.T, in []byte, golden string) {
		evs, err := decodeStream(in)
		out := renderEvents(t, evs)
		if err != nil {
			out = append(out, "error: "+err.Error()+"\n"...)
		}
		checkWellFormed(t, evs)
		checkGolden(t, golden, out)
	})
}

// Encoding decoded events and decoding them again gives the same events,
// except that a stop sequence becomes a plain stop: OpenAI's chunks cannot
// say which sequence matched.
func TestStreamDecoder_RoundTrip(t *testing.T) {
	goldenCases(t, "streams", ".sse", func(t *testing.T, in []byte, _ string) {
		first, err := decodeStream(in)
		if err != nil {
			t.Skip("stream ends in an error")
		}
		enc := NewStreamEncoder(true, 1)
		var sse []byte
		for _, ev := range first {
			sse = append(sse, enc.Encode(ev)...)
		}
		second, err := decodeStream(sse)
		if err != nil {
			t.Fatalf("%v\n%s", err, sse)
		}
		for i, ev := range first {
			if ev.StopReason == protocol.StopSequence {
				first[i].StopReason = protocol.StopEndTurn // "stop" in OpenAI's terms
			}
		}
		if diff := cmp.Diff(first, second, cmpopts.IgnoreFields(protocol.Event{}, "StopSequence")); diff != "" {
			t.Errorf("decode(encode(events)) differs (-first +second):\n%s\n%s", diff, sse)
		}
	})
}

func TestStreamDecoder_Finish(t *testing.T) {
	chunk := func(s string) []byte { return []byte("data: " + s + "\n\n") }
	const content = `{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}`
	const finish = `{"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
	tests := []struct {
		name    string
		events  []string
		wantErr bool
		wantEvs int
	}{
		{"nothing at all", nil, true, 0},
		{"only ignorable chunks", []string{`{"choices":[]}`}, true, 0},
		{"cut off", []string{content}, true, 0},
		{"finish without [DONE]", []string{content, finish}, false, 1},
		{"after [DONE]", []string{content, finish, "[DONE]"}, false, 0},
		{"after an error", []string{content, `{"error":{"message":"x"}}`}, false, 0},
	}
	for _, tt := range tests {
		d := NewStreamDecoder()
		for _, e := range tt.events {
			if _, err := d.Decode(chunk(e)); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
		evs, err := d.Finish()
		if (err != nil) != tt.wantErr || len(evs) != tt.wantEvs {
			t.Errorf("%s: Finish = %d events, %v; want %d events, error %v", tt.name, len(evs), err, tt.wantEvs, tt.wantErr)
		}
		if tt.wantEvs > 0 && evs[len(evs)-1].Type != protocol.EventStop {
			t.Errorf("%s: last event %v, want stop", tt.name, evs[len(evs)-1].Type)
		}
	}
}

// Nothing comes after [DONE] or an in-band error.
func TestStreamDecoder_NothingAfterTheEnd(t *testing.T) {
	for _, end := range []string{"[DONE]", `{"error":"boom"}`} {
		d := NewStreamDecoder()
		d.Decode([]byte("data: " + end + "\n\n"))
		evs, err := d.Decode([]byte(`data: {"id":"c","choices":[{"index":0,"delta":{"content":"late"}}]}` + "\n\n"))
		if len(evs) != 0 || err != nil {
			t.Errorf("after %s: %v, %v", end, evs, err)
		}
	}
}

// checkWellFormed asserts the event-stream invariants of the internal
// model: a start first; new blocks in increasing index order, one open at a
// time; deltas only to blocks that were started; every block closed before
// the stop; nothing after a stop or an error.
func checkWellFormed(t *testing.T, evs []protocol.Event) {
	t.Helper()
	if err := wellFormed(evs); err != nil {
		t.Errorf("%v\n%s", err, renderEvents(t, evs))
	}
}

func wellFormed(evs []protocol.Event) error {
	started, ended, open, next := false, false, -1, 0
	for i, ev := range evs {
		switch {
		case ended:
			return errorf("event %d (%s) after the end", i, ev.Type)
		case ev.Type == protocol.EventStart && started:
			return errorf("event %d: a second start", i)
		case ev.Type != protocol.EventStart && ev.Type != protocol.EventError && !started:
			return errorf("event %d (%s) before the start", i, ev.Type)
		}
		switch ev.Type {
		case protocol.EventStart:
			started = true
		case protocol.EventBlockStart:
			if open >= 0 || ev.Index != next || ev.Block == nil {
				return errorf("event %d: block %d started (open %d, next %d)", i, ev.Index, open, next)
			}
			open, next = ev.Index, next+1
		case protocol.EventDelta:
			if ev.Index < 0 || ev.Index >= next {
				return errorf("event %d: delta to block %d, never started", i, ev.Index)
			}
		case protocol.EventBlockStop:
			if ev.Index != open {
				return errorf("event %d: block %d stopped, %d is open", i, ev.Index, open)
			}
			open = -1
		case protocol.EventStop:
			if open >= 0 {
				return errorf("event %d: stop with block %d open", i, open)
			}
			ended = true
		case protocol.EventError:
			if ev.Err == nil {
				return errorf("event %d: error without Err", i)
			}
			ended = true
		default:
			return errorf("event %d: unknown type %q", i, ev.Type)
		}
	}
	return nil
}
