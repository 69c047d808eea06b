package responses

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

func TestEncodeRequest_Golden(t *testing.T) {
	goldenCases(t, "upstream/request", func(t *testing.T, in []byte, golden string) {
		var c struct {
			Options EncodeOptions
			Request protocol.Request
		}
		if err := json.Unmarshal(in, &c); err != nil {
			t.Fatal(err)
		}
		body, dropped, err := EncodeRequest(c.Request, c.Options)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, golden, indent(t, map[string]any{"body": json.RawMessage(body), "dropped": dropped}))
	})
}

func TestEncodeRequest_Refuses(t *testing.T) {
	two, yes := 2, true
	for _, tc := range []struct {
		name  string
		req   protocol.Request
		param string
	}{
		{"n", protocol.Request{N: &two}, "n"},
		{"logprobs", protocol.Request{Logprobs: &yes}, "logprobs"},
		{"logit_bias", protocol.Request{LogitBias: json.RawMessage(`{"1":2}`)}, "logit_bias"},
		{"audio", protocol.Request{Untranslatable: []string{"audio"}}, "audio"},
		{"assistant image", protocol.Request{Messages: []protocol.Message{{Role: protocol.RoleAssistant,
			Content: []protocol.Block{{Type: protocol.BlockImage, Image: &protocol.Image{URL: "u"}}}}}}, "messages.0.content.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := EncodeRequest(tc.req, EncodeOptions{})
			re, ok := err.(*protocol.RequestError)
			if !ok || re.Param != tc.param {
				t.Fatalf("err = %v, want a RequestError for %s", err, tc.param)
			}
		})
	}
}

// upstreamCases runs f for each provider stream in testdata/upstream.
func upstreamCases(t *testing.T, f func(t *testing.T, name string, stream []byte)) {
	paths, err := filepath.Glob(filepath.Join("testdata", "upstream", "*.sse"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no streams in testdata/upstream (%v)", err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(path, ".sse")
		t.Run(filepath.Base(name), func(t *testing.T) {
			stream, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f(t, name, stream)
		})
	}
}

func decodeStream(t testing.TB, stream []byte) ([]protocol.Event, error) {
	d := NewStreamDecoder()
	rd := protocol.NewEventReader(bytes.NewReader(stream))
	var out []protocol.Event
	for {
		raw, err := rd.Next()
		if err != nil {
			evs, err := d.Finish()
			return append(out, evs...), err
		}
		evs, err := d.Decode(raw)
		if err != nil {
			return out, err
		}
		out = append(out, evs...)
	}
}

// Each provider stream decodes to its golden events; where the provider's
// final Response object is there too (NAME.json), it decodes to its golden
// Response, and the stream's events aggregate to that same Response: the
// fragments add up to the whole.
func TestStreamDecoder_GoldenAndFragments(t *testing.T) {
	upstreamCases(t, func(t *testing.T, name string, stream []byte) {
		evs, err := decodeStream(t, stream)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, name+".events.golden", indent(t, evs))
		checkSequence(t, evs)
		obj, err := os.ReadFile(name + ".json")
		if os.IsNotExist(err) {
			return
		}
		whole, err := DecodeResponse(obj)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, name+".response.golden", indent(t, whole))
		agg, err := protocol.Aggregate(evs)
		if err != nil {
			t.Fatal(err)
		}
		whole.Created = 0
		if diff := cmp.Diff(whole, agg); diff != "" {
			t.Errorf("aggregated stream differs from the Response object (-object +stream):\n%s", diff)
		}
	})
}

// modelbar's own Responses encoder speaks the API too: what it encodes,
// the decoders give back.
func TestDecode_RoundTripsTheEncoder(t *testing.T) {
	goldenCases(t, "stream", func(t *testing.T, in []byte, _ string) {
		req, res := loadCase(t, in)
		body, err := EncodeResponse(req, res)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := DecodeResponse(body)
		if err != nil {
			t.Fatal(err)
		}
		e := NewStreamEncoder(req, res.Created)
		var stream []byte
		for _, ev := range protocol.ResponseEvents(res) {
			stream = append(stream, e.Encode(ev)...)
		}
		evs, err := decodeStream(t, stream)
		if err != nil {
			t.Fatal(err)
		}
		agg, _ := protocol.Aggregate(evs)
		whole.Created = 0
		if diff := cmp.Diff(whole, agg); diff != "" {
			t.Errorf("stream and object differ (-object +stream):\n%s", diff)
		}
		if len(whole.Content) != len(res.Content) || whole.StopReason != res.StopReason || whole.Usage != res.Usage {
			t.Errorf("decoded %+v, encoded %+v", whole, res)
		}
	})
}

func TestDecodeResponse_Failed(t *testing.T) {
	_, err := DecodeResponse([]byte(`{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"boom"},"output":[]}`))
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
}

func TestStreamDecoder_CutOff(t *testing.T) {
	stream, err := os.ReadFile(filepath.Join("testdata", "upstream", "incomplete.sse"))
	if err != nil {
		t.Fatal(err)
	}
	cut := stream[:bytes.LastIndex(stream, []byte("event: response.incomplete"))]
	if _, err := decodeStream(t, cut); err == nil {
		t.Fatal("a stream cut off before its end decoded without error")
	}
}

// checkSequence: a start first; blocks opened, filled and closed one at a
// time in index order; nothing after a stop or an error.
func checkSequence(t testing.TB, evs []protocol.Event) {
	t.Helper()
	open, next, ended := -1, 0, false
	for i, ev := range evs {
		bad := ended || (i == 0) != (ev.Type == protocol.EventStart)
		switch ev.Type {
		case protocol.EventBlockStart:
			bad = bad || open >= 0 || ev.Index != next || ev.Block == nil
			open, next = ev.Index, next+1
		case protocol.EventDelta:
			bad = bad || ev.Index != open
		case protocol.EventBlockStop:
			bad = bad || ev.Index != open
			open = -1
		case protocol.EventStop, protocol.EventError:
			bad = bad || (ev.Type == protocol.EventStop && open >= 0)
			ended = true
		}
		if bad {
			t.Fatalf("event %d out of order: %+v\nall: %+v", i, ev, evs)
		}
	}
}

// FuzzStreamDecoder feeds arbitrary bytes as a provider's stream: the
// decoder never panics, and what it gives is a well-formed event sequence.
func FuzzStreamDecoder(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "upstream", "*.sse"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		evs, _ := decodeStream(t, stream)
		checkSequence(t, evs)
		for _, ev := range evs {
			if ev.Type == protocol.EventError && ev.Err == nil {
				t.Fatal("an error event without its error")
			}
		}
	})
}
