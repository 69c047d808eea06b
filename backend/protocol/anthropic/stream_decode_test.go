package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

func TestStreamDecoder_Golden(t *testing.T) {
	for name, path := range inputs(t, "streams", ".sse") {
		t.Run(name, func(t *testing.T) {
			evs, err := decodeStream(readFile(t, path))
			if werr := wellFormed(evs, err == nil); werr != nil {
				t.Errorf("ill-formed events: %v", werr)
			}
			out := struct {
				Events []eventView
				Error  string
			}{Events: viewEvents(evs)}
			if err != nil {
				out.Error = err.Error()
			}
			checkGolden(t, strings.TrimSuffix(path, ".sse")+".golden", render(t, out))
		})
	}
}

// TestStream_RoundTrip: a stream decoded, encoded for an Anthropic client
// and decoded again gives the same events, partial_json fragments and all.
func TestStream_RoundTrip(t *testing.T) {
	for name, path := range inputs(t, "streams", ".sse") {
		t.Run(name, func(t *testing.T) {
			want, _ := decodeStream(readFile(t, path))
			sse := encodeStream(want)
			got, err := decodeStream(sse)
			if err != nil && !errors.Is(err, ErrStreamCut) {
				t.Fatalf("decoding our own stream: %v\n%s", err, sse)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s\n%s", diff, sse)
			}
		})
	}
}

func TestStreamDecoder_StopReasons(t *testing.T) {
	for _, reason := range []protocol.StopReason{
		protocol.StopEndTurn, protocol.StopMaxTokens, protocol.StopSequence, protocol.StopToolUse,
		protocol.StopRefusal, protocol.StopPauseTurn, "model_context_window_exceeded",
	} {
		stop := protocol.Event{Type: protocol.EventStop, StopReason: reason, Usage: protocol.Usage{InputTokens: 3, OutputTokens: 4, CacheReadTokens: 5, CacheWriteTokens: 6}}
		if reason == protocol.StopSequence {
			stop.StopSequence = "END"
		}
		want := []protocol.Event{{Type: protocol.EventStart, ID: "msg", Model: "m", Usage: protocol.Usage{InputTokens: 3, CacheReadTokens: 5, CacheWriteTokens: 6}}, stop}
		got, err := decodeStream(encodeStream(want))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", reason, diff)
		}
	}
}

// TestStreamDecoder_PartialJSONAtEveryCut: a tool input split into
// input_json_delta fragments at any cut point reassembles to the same
// object, and decode-encode-decode keeps the fragments' concatenation. Cut
// points are code-point boundaries: a fragment travels as a JSON string, so
// it cannot end inside a UTF-8 sequence.
func TestStreamDecoder_PartialJSONAtEveryCut(t *testing.T) {
	input := `{"path": "src/main.go", "edits": [{"old": "fmt.Println(\"héllo\")", "new": "log.Print(\"<b>\u00e9</b> & \\\\\")"}], "n": 1.5e3, "ok": true, "none": null}`
	if !json.Valid([]byte(input)) {
		t.Fatal("test input is not JSON")
	}
	for i := 0; i <= len(input); i++ {
		if i < len(input) && !utf8.RuneStart(input[i]) {
			continue
		}
		j := i + (len(input)-i)/2
		for j < len(input) && !utf8.RuneStart(input[j]) {
			j++
		}
		for _, j := range []int{i, j} {
			sse := toolStream(input[:i], input[i:j], input[j:])
			evs, err := decodeStream(sse)
			if err != nil {
				t.Fatalf("cut %d,%d: %v", i, j, err)
			}
			if got := inputJSON(evs); got != input {
				t.Fatalf("cut %d,%d: reassembled %q", i, j, got)
			}
			again, err := decodeStream(encodeStream(evs))
			if err != nil || inputJSON(again) != input {
				t.Fatalf("cut %d,%d: after encode and decode: %q, %v", i, j, inputJSON(again), err)
			}
		}
	}
}

// toolStream is a complete stream with one tool_use block whose input
// arrives in the given fragments.
func toolStream(fragments ...string) []byte {
	var b bytes.Buffer
	event := func(name, data string) { fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", name, data) }
	event("message_start", `{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":1,"output_tokens":1}}}`)
	event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"edit","input":{}}}`)
	for _, f := range fragments {
		q, _ := json.Marshal(f)
		event("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":`+string(q)+`}}`)
	}
	event("content_block_stop", `{"type":"content_block_stop","index":0}`)
	event("message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}`)
	event("message_stop", `{"type":"message_stop"}`)
	return b.Bytes()
}

func inputJSON(evs []protocol.Event) string {
	var s strings.Builder
	for _, ev := range evs {
		if ev.Type == protocol.EventDelta && ev.DeltaType == protocol.DeltaInputJSON {
			s.WriteString(ev.Delta)
		}
	}
	return s.String()
}

func TestStreamDecoder_Errors(t *testing.T) {
	start := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\"}}\n\n"
	block := "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
	tests := []struct{ name, sse, want string }{
		{"block before message_start", block, "content_block_start before message_start"},
		{"second message_start", start + start, "a second message_start"},
		{"message_start without message", "data: {\"type\":\"message_start\"}\n\n", "without a message"},
		{"delta for no block", start + "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n", "block 3, which was never started"},
		{"stop for no block", start + "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n", "never started"},
		{"delta after stop", start + block + "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n" + "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n", "after it stopped"},
		{"block started twice", start + block + block, "started twice"},
		{"start without index", start + "data: {\"type\":\"content_block_start\",\"content_block\":{\"type\":\"text\"}}\n\n", "without an index"},
		{"delta without delta", start + block + "data: {\"type\":\"content_block_delta\",\"index\":0}\n\n", "without a delta"},
		{"not JSON", start + "event: content_block_delta\ndata: {oops\n\n", `malformed "content_block_delta" event`},
		{"wrong member type", start + "data: {\"type\":\"content_block_start\",\"index\":\"0\",\"content_block\":{}}\n\n", "malformed content_block_start event"},
		{"data not an object", "data: [1]\n\n", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewStreamDecoder()
			var err error
			r := protocol.NewEventReader(strings.NewReader(tt.sse))
			for err == nil {
				raw, rerr := r.Next()
				if rerr != nil {
					break
				}
				_, err = d.Decode(raw)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one with %q", err, tt.want)
			}
			if _, again := d.Decode([]byte("event: ping\ndata: {}\n\n")); again != err {
				t.Errorf("the error is not sticky: %v", again)
			}
			if _, ferr := d.Finish(); ferr != err {
				t.Errorf("Finish = %v, want the decoding error", ferr)
			}
		})
	}
}

func TestStreamDecoder_Finish(t *testing.T) {
	d := NewStreamDecoder()
	if _, err := d.Finish(); !errors.Is(err, ErrStreamCut) {
		t.Errorf("empty stream: Finish = %v, want ErrStreamCut", err)
	}
	evs, err := d.Decode([]byte("event: error\ndata: {\"type\":\"error\"}\n\n"))
	if err != nil || len(evs) != 1 || evs[0].Err == nil || evs[0].Err.Type != "api_error" || evs[0].Err.Message == "" {
		t.Errorf("bare error event: %+v, %v", evs, err)
	}
	if evs, err := d.Finish(); evs != nil || err != nil {
		t.Errorf("after an error event: Finish = %v, %v", evs, err)
	}
}

// wellFormed checks the contract of protocol.Event sequences: EventStart
// first, blocks opened, filled and closed one at a time with indices
// contiguous from 0, every block closed before EventStop, nothing after
// EventStop or EventError. complete says the sequence must have ended.
func wellFormed(evs []protocol.Event, complete bool) error {
	started, open, next, ended := false, -1, 0, false
	for i, ev := range evs {
		if ended {
			return fmt.Errorf("event %d (%s) after the end", i, ev.Type)
		}
		if !started && ev.Type != protocol.EventStart && ev.Type != protocol.EventError {
			return fmt.Errorf("event %d (%s) before EventStart", i, ev.Type)
		}
		switch ev.Type {
		case protocol.EventStart:
			if started {
				return fmt.Errorf("event %d: a second EventStart", i)
			}
			started = true
		case protocol.EventBlockStart:
			if open >= 0 || ev.Index != next || ev.Block == nil {
				return fmt.Errorf("event %d: block %d started (open %d, next %d, block %v)", i, ev.Index, open, next, ev.Block)
			}
			open, next = ev.Index, next+1
		case protocol.EventDelta, protocol.EventBlockStop:
			if ev.Index != open {
				return fmt.Errorf("event %d: %s for block %d, open is %d", i, ev.Type, ev.Index, open)
			}
			if ev.Type == protocol.EventBlockStop {
				open = -1
			}
		case protocol.EventStop:
			if open >= 0 {
				return fmt.Errorf("event %d: EventStop with block %d open", i, open)
			}
			ended = true
		case protocol.EventError:
			ended = true
		default:
			return fmt.Errorf("event %d: unknown type %q", i, ev.Type)
		}
	}
	if complete && !ended {
		return errors.New("the sequence does not end")
	}
	return nil
}
