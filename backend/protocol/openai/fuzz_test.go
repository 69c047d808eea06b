package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelbar/modelbar/backend/protocol"
)

func addSeeds(f *testing.F, glob string) {
	paths, _ := filepath.Glob(glob)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// A request either decodes into something the encoder can send (valid
// JSON that decodes again), or fails with a RequestError; never a panic.
func FuzzDecodeChatRequest(f *testing.F) {
	addSeeds(f, "testdata/requests/*.json")
	f.Add([]byte(withMessages(`[{"role":"tool","tool_call_id":"x","content":[{"type":"text","text":"a"}]},{"role":"function","name":"f","content":null},` + userHi + `]`)))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeChatRequest(body)
		if err != nil {
			var re *protocol.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is a %T, not a *RequestError", err, err)
			}
			return
		}
		for _, field := range []string{"", "max_completion_tokens"} {
			out, _, err := EncodeChatRequest(req, EncodeOptions{MaxTokensField: field})
			if err != nil {
				t.Fatalf("encode of a decoded request: %v", err)
			}
			if !json.Valid(out) {
				t.Fatalf("encoded request is not JSON: %s", out)
			}
			if len(req.Messages) == 0 && joinText(req.System) == "" {
				continue // only empty system messages: nothing to send
			}
			if _, err := DecodeChatRequest(out); err != nil {
				t.Fatalf("the encoded request does not decode: %v\n%s", err, out)
			}
		}
	})
}

// Whatever a backend streams, the decoder does not panic, its events are
// well formed, and the encoder turns them into whole, valid SSE events.
func FuzzStreamDecoder(f *testing.F) {
	addSeeds(f, "testdata/streams/*.sse")
	f.Fuzz(func(t *testing.T, stream []byte) {
		d := NewStreamDecoder()
		var all []protocol.Event
		events := protocol.NewEventReader(bytes.NewReader(stream))
		for {
			raw, err := events.Next()
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				evs, _ := d.Finish()
				all = append(all, evs...)
				break
			}
			if err != nil {
				break
			}
			evs, _ := d.Decode(raw) // a malformed chunk changes nothing; go on
			all = append(all, evs...)
		}
		if err := wellFormed(all); err != nil {
			t.Fatalf("%v\n%s", err, renderEvents(t, all))
		}
		enc := NewStreamEncoder(true, 1)
		for _, ev := range all {
			checkWholeEvents(t, enc.Encode(ev))
		}
	})
}
