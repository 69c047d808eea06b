package gateway

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzNoteWireUsage: noteWireUsage takes any bytes without panic (on a nil
// *requestInfo too) and leaves each count as it was or sets it to a positive
// number, so counts never go negative; a body without "usage" changes
// nothing. A usage built from two fuzzed counts, in each shape the relay
// sees (OpenAI's usage, Anthropic's usage with the prompt split into
// input, cache-read and cache-write tokens, Anthropic's message_start),
// reads back as exactly those counts, or leaves the old ones when a count
// is not positive.
func FuzzNoteWireUsage(f *testing.F) {
	for _, s := range []string{
		`{"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}`,
		`{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":13,"cache_read_input_tokens":2,"output_tokens":1}}}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}`,
		`{"usage":null,"message":{"usage":{"input_tokens":-4,"output_tokens":"x"}}}`,
		`{"usage":{"prompt_tokens":9223372036854775807,"input_tokens":1,"cache_creation_input_tokens":-9223372036854775808}}`,
		`{"usage":{"prompt_tokens":1e3}}`, `"usage"`, `[{"usage":{}}]`, ``,
	} {
		f.Add([]byte(s), int64(5), int64(3))
	}
	f.Add([]byte(`{"usage":{}}`), int64(0), int64(-1))
	f.Add([]byte(`data: {"usage":{"prompt_tokens":2}}`), int64(9223372036854775807), int64(-9223372036854775808))
	f.Fuzz(func(t *testing.T, data []byte, in, out int64) {
		(*requestInfo)(nil).noteWireUsage(data)

		info := &requestInfo{inputTokens: 7, outputTokens: 9}
		info.noteWireUsage(data)
		for name, n := range map[string][2]int64{"input": {7, info.inputTokens}, "output": {9, info.outputTokens}} {
			if n[1] != n[0] && n[1] <= 0 {
				t.Fatalf("%s tokens %d from %q", name, n[1], data)
			}
			if n[1] != n[0] && !bytes.Contains(data, []byte(`"usage"`)) {
				t.Fatalf("%s tokens %d from %q, which has no usage", name, n[1], data)
			}
		}

		cacheRead, cacheWrite := in/2, in/4
		for _, body := range []string{
			fmt.Sprintf(`{"object":"chat.completion","usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":0}}`, in, out),
			fmt.Sprintf(`{"type":"message_delta","usage":{"input_tokens":%d,"cache_read_input_tokens":%d,"cache_creation_input_tokens":%d,"output_tokens":%d}}`,
				in-cacheRead-cacheWrite, cacheRead, cacheWrite, out),
			fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_1","content":[],"usage":{"input_tokens":%d,"output_tokens":%d}}}`, in, out),
		} {
			info := &requestInfo{inputTokens: 7, outputTokens: 9}
			info.noteWireUsage([]byte(body))
			wantIn, wantOut := int64(7), int64(9)
			if in > 0 {
				wantIn = in
			}
			if out > 0 {
				wantOut = out
			}
			if info.inputTokens != wantIn || info.outputTokens != wantOut {
				t.Fatalf("%s: input %d, output %d; want %d, %d", body, info.inputTokens, info.outputTokens, wantIn, wantOut)
			}
		}
	})
}
