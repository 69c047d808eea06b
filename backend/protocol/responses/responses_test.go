package responses

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func goldenCases(t *testing.T, dir string, f func(t *testing.T, in []byte, golden string)) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test cases in testdata/%s (%v)", dir, err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f(t, in, strings.TrimSuffix(path, ".json")+".golden")
		})
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func indent(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestDecodeRequest_Golden(t *testing.T) {
	goldenCases(t, "request", func(t *testing.T, in []byte, golden string) {
		req, err := DecodeRequest(in)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, golden, indent(t, req))
	})
}

type streamCase struct {
	Request  json.RawMessage
	Response protocol.Response
}

func loadCase(t *testing.T, in []byte) (protocol.Request, protocol.Response) {
	var c streamCase
	if err := json.Unmarshal(in, &c); err != nil {
		t.Fatal(err)
	}
	req, err := DecodeRequest(c.Request)
	if err != nil {
		t.Fatal(err)
	}
	return req, c.Response
}

// Each case is encoded as a Response object and as a stream; the stream's
// deltas add up to its done values, and its final response is the object.
func TestEncode_GoldenAndReassembly(t *testing.T) {
	goldenCases(t, "stream", func(t *testing.T, in []byte, golden string) {
		req, res := loadCase(t, in)
		body, err := EncodeResponse(req, res)
		if err != nil {
			t.Fatal(err)
		}
		var obj any
		json.Unmarshal(body, &obj)
		checkGolden(t, strings.TrimSuffix(golden, ".golden")+".response.golden", indent(t, obj))
		e := NewStreamEncoder(req, res.Created)
		var stream []byte
		for _, ev := range protocol.ResponseEvents(res) {
			stream = append(stream, e.Encode(ev)...)
		}
		checkGolden(t, golden, stream)
		evs := events(t, stream)
		checkReassembly(t, evs)
		final := evs[len(evs)-1]["response"]
		if diff := cmp.Diff(obj, final); diff != "" {
			t.Errorf("final streamed response differs from the object (-object +stream):\n%s", diff)
		}
	})
}

func events(t *testing.T, stream []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, block := range bytes.Split(bytes.TrimSpace(stream), []byte("\n\n")) {
		lines := strings.SplitN(string(block), "\n", 2)
		name, _ := strings.CutPrefix(lines[0], "event: ")
		data, _ := strings.CutPrefix(lines[1], "data: ")
		var ev map[string]any
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event %q: %v", block, err)
		}
		if ev["type"] != name || int(ev["sequence_number"].(float64)) != len(out) {
			t.Errorf("event %d: %s", len(out), block)
		}
		out = append(out, ev)
	}
	return out
}

// checkReassembly: per item, the concatenated deltas equal the done value,
// and the done item carries it.
func checkReassembly(t *testing.T, evs []map[string]any) {
	t.Helper()
	deltas := map[string]string{}
	pairs := map[string]string{"response.output_text.done": "text", "response.function_call_arguments.done": "arguments",
		"response.custom_tool_call_input.done": "input", "response.reasoning_summary_text.done": "text"}
	for _, ev := range evs {
		typ := ev["type"].(string)
		id, _ := ev["item_id"].(string)
		if strings.HasSuffix(typ, ".delta") {
			deltas[id] += ev["delta"].(string)
		}
		if field, ok := pairs[typ]; ok {
			if ev[field] != deltas[id] {
				t.Errorf("%s of %s: %q, deltas add up to %q", typ, id, ev[field], deltas[id])
			}
		}
	}
}

func TestDecodeRequest_Errors(t *testing.T) {
	for _, tc := range []struct{ body, param string }{
		{`{"model":"m"}`, "input"},
		{`{"model":"m","input":"x","previous_response_id":"resp_1"}`, "previous_response_id"},
		{`{"model":"m","input":[{"type":"message","role":"robot","content":"x"}]}`, "input[0].role"},
		{`{"model":"m","input":"x","reasoning":{"effort":"huge"}}`, "reasoning.effort"},
		{`{"model":"m","input":"x","temperature":3}`, "temperature"},
		{`{"model":"m","input":[{"type":"message","role":"user","content":[{"type":"input_file","file_id":"f"}]}]}`, "input[0].content[0].type"},
	} {
		_, err := DecodeRequest([]byte(tc.body))
		re, ok := err.(*protocol.RequestError)
		if !ok || re.Param != tc.param {
			t.Errorf("%s: %v, want an error naming %s", tc.body, err, tc.param)
		}
	}
}

func TestSealThinking_RoundTrips(t *testing.T) {
	for _, b := range []protocol.Block{{Type: protocol.BlockThinking, Text: "t", Signature: "s"}, {Type: protocol.BlockRedactedThinking, Signature: "data"}} {
		got, ok := openThinking(sealThinking(b))
		if !ok || !cmp.Equal(got, b) {
			t.Errorf("%+v came back as %+v, %v", b, got, ok)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	paths, _ := filepath.Glob("testdata/request/*.json")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRequest(body)
		if err == nil && len(req.Messages) == 0 {
			t.Errorf("no error and no messages: %s", body)
		}
	})
}

// FuzzStreamEncoder feeds arbitrary event sequences (text, thinking and
// tool blocks with fuzzed deltas) to the encoder: every event is valid
// JSON with its sequence number, and the deltas add up to the done values.
func FuzzStreamEncoder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, "hello", `{"input":"x"}`, true)
	f.Add([]byte{2, 2, 9, 1}, "", `{"a":`, false)
	f.Fuzz(func(t *testing.T, kinds []byte, text, args string, stop bool) {
		req, _ := DecodeRequest([]byte(`{"model":"m","input":"x","include":["reasoning.encrypted_content"],"tools":[{"type":"custom","name":"c"}]}`))
		e := NewStreamEncoder(req, 1)
		out := e.Encode(protocol.Event{Type: protocol.EventStart, ID: "x"})
		for i, k := range kinds {
			if i > 8 {
				break
			}
			var b protocol.Block
			switch k % 4 {
			case 0:
				b = protocol.Block{Type: protocol.BlockText, Text: text}
			case 1:
				b = protocol.Block{Type: protocol.BlockThinking, Text: text, Signature: "s"}
			case 2:
				b = protocol.Block{Type: protocol.BlockToolUse, ID: "t", Name: "c", Input: json.RawMessage(args)}
			default:
				b = protocol.Block{Type: protocol.BlockToolUse, ID: "t", Name: "f", Input: json.RawMessage(args)}
			}
			for _, ev := range protocol.ResponseEvents(protocol.Response{Content: []protocol.Block{b}})[1:2] {
				ev.Index = i
				out = append(out, e.Encode(ev)...)
			}
			// A backend's deltas are decoded JSON strings: valid UTF-8,
			// split between characters.
			text := strings.ToValidUTF8(text, "?")
			n := len(text) / 2
			for n > 0 && !utf8.RuneStart(text[n]) {
				n--
			}
			for _, d := range []string{text[:n], text[n:]} {
				dt := map[protocol.BlockType]protocol.DeltaType{protocol.BlockText: protocol.DeltaText, protocol.BlockThinking: protocol.DeltaThinking, protocol.BlockToolUse: protocol.DeltaInputJSON}[b.Type]
				out = append(out, e.Encode(protocol.Event{Type: protocol.EventDelta, Index: i, DeltaType: dt, Delta: d})...)
			}
			out = append(out, e.Encode(protocol.Event{Type: protocol.EventBlockStop, Index: i})...)
		}
		if stop {
			out = append(out, e.Encode(protocol.Event{Type: protocol.EventStop, StopReason: protocol.StopEndTurn})...)
		} else {
			out = append(out, e.Encode(protocol.Event{Type: protocol.EventError, Err: &protocol.StreamError{Type: "server_error", Message: text}})...)
		}
		evs := events(t, out)
		checkReassembly(t, evs)
		last := evs[len(evs)-1]["type"]
		if (stop && last != "response.completed") || (!stop && last != "response.failed") {
			t.Errorf("stream ends with %v", last)
		}
	})
}
