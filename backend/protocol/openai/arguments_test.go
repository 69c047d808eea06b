package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/protocol"
)

// Tool call arguments as models write them: escapes, nesting, non-ASCII,
// braces inside strings, odd spacing.
var sampleArguments = []string{
	`{}`,
	`{"city":"Paris"}`,
	`{"q": "naïve \"quoted\" \\ back\nslash", "n": [1, 2.5e3, null, true, false]}`,
	`{"deep":{"a":{"b":[{"c":"}"},{"d":"{["}]}}}`,
	`{"s":"\u00e9\u4e2d\ud83d\ude00","emoji":"😀 中文"}`,
	"{\n  \"path\": \"main.go\",\n  \"lines\": [1, 20]\n}",
}

// runeCuts splits s at the given byte offsets, each moved back to a rune
// boundary (a server's chunk is valid UTF-8 JSON, so it never splits one).
func runeCuts(s string, cuts []int) []string {
	var frags []string
	prev := 0
	for _, c := range cuts {
		for c > prev && c < len(s) && !isRuneStart(s[c]) {
			c--
		}
		if c < prev {
			c = prev
		}
		frags = append(frags, s[prev:c])
		prev = c
	}
	return append(frags, s[prev:])
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// toolStream is an OpenAI stream of one chunk opening each call, then its
// argument fragments, one chunk each (empty ones too), call after call.
func toolStream(calls [][]string) []byte {
	var b bytes.Buffer
	write := func(delta string) {
		fmt.Fprintf(&b, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":%s,"finish_reason":null}]}`+"\n\n", delta)
	}
	for k, frags := range calls {
		write(fmt.Sprintf(`{"tool_calls":[{"index":%d,"id":"call_%d","type":"function","function":{"name":"f","arguments":""}}]}`, k, k))
		for _, f := range frags {
			arg, _ := json.Marshal(f)
			write(fmt.Sprintf(`{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}`, k, arg))
		}
	}
	b.WriteString(`data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}` + "\n\n" + "data: [DONE]\n\n")
	return b.Bytes()
}

// inputs concatenates the input_json deltas of each block.
func inputs(evs []protocol.Event) map[int]string {
	in := map[int]string{}
	for _, ev := range evs {
		if ev.Type == protocol.EventDelta && ev.DeltaType == protocol.DeltaInputJSON {
			in[ev.Index] += ev.Delta
		}
	}
	return in
}

// encodedArguments concatenates the arguments of each tool call of an
// OpenAI stream.
func encodedArguments(t *testing.T, sse []byte) map[int]string {
	t.Helper()
	args := map[int]string{}
	for _, ev := range bytes.Split(sse, []byte("\n\n")) {
		data := protocol.EventData(ev)
		if len(data) == 0 || string(data) == "[DONE]" {
			continue
		}
		var c chatResponseIn
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				args[*tc.Index] += string(tc.Function.Arguments)
			}
		}
	}
	return args
}

// checkFragments: the decoder reassembles every call's arguments exactly,
// and so does a client reading the re-encoded stream.
func checkFragments(t *testing.T, calls [][]string) {
	t.Helper()
	evs, err := decodeStream(toolStream(calls))
	if err != nil {
		t.Fatal(err)
	}
	if err := wellFormed(evs); err != nil {
		t.Fatal(err)
	}
	got := inputs(evs)
	enc := NewStreamEncoder(false, 1)
	var sse []byte
	for _, ev := range evs {
		sse = append(sse, enc.Encode(ev)...)
	}
	reencoded := encodedArguments(t, sse)
	for k, frags := range calls {
		want := strings.Join(frags, "")
		if got[k] != want {
			t.Fatalf("fragments %q: decoded %q, want %q", frags, got[k], want)
		}
		if reencoded[k] != want {
			t.Fatalf("fragments %q: re-encoded %q, want %q", frags, reencoded[k], want)
		}
	}
}

func TestStreamDecoder_ArgumentsAtEveryCut(t *testing.T) {
	for _, args := range sampleArguments {
		for cut := 0; cut <= len(args); cut++ {
			if cut < len(args) && !isRuneStart(args[cut]) {
				continue
			}
			checkFragments(t, [][]string{{args[:cut], args[cut:]}})
		}
	}
}

func TestStreamDecoder_ArgumentsAtRandomCuts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	split := func(s string) []string {
		cuts := make([]int, r.IntN(12))
		for i := range cuts {
			cuts[i] = r.IntN(len(s) + 1)
		}
		slices.Sort(cuts)
		return runeCuts(s, cuts)
	}
	for range 200 {
		calls := make([][]string, 1+r.IntN(3)) // parallel calls, one after another
		for k := range calls {
			calls[k] = split(sampleArguments[r.IntN(len(sampleArguments))])
		}
		checkFragments(t, calls)
	}
}

func TestArguments(t *testing.T) {
	for _, tt := range []struct {
		model string          // arguments as the model wrote them
		input json.RawMessage // decoded
		back  string          // encoded again
	}{
		{``, json.RawMessage(`{}`), `{}`},
		{"  \n", json.RawMessage(`{}`), `{}`},
		{` {"a": 1} `, json.RawMessage(`{"a": 1}`), `{"a":1}`},
		// Not an object: kept verbatim, and given back verbatim.
		{`{"a":`, json.RawMessage(`{"_invalid_arguments":"{\"a\":"}`), `{"a":`},
		{`[1,2]`, json.RawMessage(`{"_invalid_arguments":"[1,2]"}`), `[1,2]`},
		{`"x"`, json.RawMessage(`{"_invalid_arguments":"\"x\""}`), `"x"`},
		{`<tool>`, json.RawMessage(`{"_invalid_arguments":"<tool>"}`), `<tool>`},
		{`{"_invalid_arguments":`, json.RawMessage(`{"_invalid_arguments":"{\"_invalid_arguments\":"}`), `{"_invalid_arguments":`},
	} {
		input := modelArguments(tt.model)
		if string(input) != string(tt.input) {
			t.Errorf("modelArguments(%q) = %s, want %s", tt.model, input, tt.input)
		}
		if back := argumentsText(input); back != tt.back {
			t.Errorf("argumentsText(%s) = %q, want %q", input, back, tt.back)
		}
	}
	for input, want := range map[string]string{
		`"[1]"`:                            `[1]`, // a JSON string, as other producers may write
		`{"_invalid_arguments":1}`:         `{"_invalid_arguments":1}`,
		`{"_invalid_arguments":"x","b":2}`: `{"_invalid_arguments":"x","b":2}`,
		"{\n \"a\" : [1, 2]\n}":            `{"a":[1,2]}`,
	} {
		if got := argumentsText(json.RawMessage(input)); got != want {
			t.Errorf("argumentsText(%s) = %q, want %q", input, got, want)
		}
	}
}
