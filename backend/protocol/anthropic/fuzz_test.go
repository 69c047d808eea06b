package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/modelbar/modelbar/backend/protocol"
)

func addSeeds(f *testing.F, dir, ext string) {
	f.Helper()
	for _, path := range inputs(f, dir, ext) {
		f.Add(readFile(f, path))
	}
}

// FuzzDecodeMessagesRequest: decoding never panics; a failure is a
// *protocol.RequestError; a success encodes, without panic, to valid JSON
// that decodes again.
func FuzzDecodeMessagesRequest(f *testing.F) {
	addSeeds(f, "requests", ".json")
	for _, c := range requestErrorCases() {
		f.Add([]byte(c.json()))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeMessagesRequest(body)
		if err != nil {
			var re *protocol.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is a %T, not a *protocol.RequestError", err, err)
			}
			return
		}
		out, _, err := EncodeMessagesRequest(req, EncodeOptions{DefaultMaxTokens: 4096})
		if err != nil {
			var re *protocol.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("encode error %v is a %T", err, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("encoded body is not JSON: %s", out)
		}
		if _, err := DecodeMessagesRequest(out); err != nil {
			t.Fatalf("the encoded body does not validate: %v\n%s", err, out)
		}
	})
}

// FuzzStreamDecoder: any bytes, split into events as the gateway splits
// them, decode without panic into a well-formed sequence, which the encoder
// turns into a stream that decodes without error to the same events.
func FuzzStreamDecoder(f *testing.F) {
	addSeeds(f, "streams", ".sse")
	f.Fuzz(func(t *testing.T, sse []byte) {
		evs, err := decodeStream(sse)
		if werr := wellFormed(evs, err == nil); werr != nil {
			t.Fatalf("ill-formed: %v\n%+v", werr, evs)
		}
		again, err := decodeStream(encodeStream(evs))
		if err != nil && !errors.Is(err, ErrStreamCut) {
			t.Fatalf("our encoder's output does not decode: %v", err)
		}
		if len(again) != len(evs) {
			t.Fatalf("round trip: %d events, then %d", len(evs), len(again))
		}
	})
}

// FuzzStreamEncoder: any sequence of events, however out of order, becomes
// whole SSE events that decode without error into a well-formed sequence.
func FuzzStreamEncoder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 2, 3, 4}, "text")
	f.Add([]byte{2, 1, 3, 3, 1, 2, 5, 4}, `{"a":`)
	f.Fuzz(func(t *testing.T, ops []byte, s string) {
		e := NewStreamEncoder()
		var out []byte
		for i, op := range ops {
			out = append(out, e.Encode(opEvent(op, i, s))...)
		}
		d := NewStreamDecoder()
		r := protocol.NewEventReader(bytes.NewReader(out))
		var all []protocol.Event
		for {
			raw, err := r.Next()
			if err != nil {
				break
			}
			evs, err := d.Decode(raw)
			if err != nil {
				t.Fatalf("decode %q: %v", raw, err)
			}
			all = append(all, evs...)
		}
		if err := wellFormed(all, false); err != nil {
			t.Fatal(err)
		}
	})
}

// opEvent makes an arbitrary event from a fuzzer's byte.
func opEvent(op byte, i int, s string) protocol.Event {
	types := []protocol.EventType{protocol.EventStart, protocol.EventBlockStart, protocol.EventDelta, protocol.EventBlockStop, protocol.EventStop, protocol.EventError, "bogus"}
	blocks := []protocol.BlockType{protocol.BlockText, protocol.BlockThinking, protocol.BlockToolUse, protocol.BlockRedactedThinking, protocol.BlockImage}
	deltas := []protocol.DeltaType{protocol.DeltaText, protocol.DeltaThinking, protocol.DeltaInputJSON, protocol.DeltaSignature, "bogus"}
	ev := protocol.Event{Type: types[int(op)%len(types)], Index: int(op>>4) % 3, Delta: s, ID: s, Model: s}
	ev.DeltaType = deltas[(int(op)>>3)%len(deltas)]
	if op&0x80 == 0 {
		ev.Block = &protocol.Block{Type: blocks[(int(op)+i)%len(blocks)], ID: s, Name: s, Signature: s, Text: s, Input: json.RawMessage(s)}
	}
	if ev.Type == protocol.EventError && op&0x40 != 0 {
		ev.Err = &protocol.StreamError{Type: s, Message: s}
	}
	return ev
}
