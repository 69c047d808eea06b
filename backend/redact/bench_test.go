package redact

import (
	"io"
	"strings"
	"testing"
)

// chunked yields data chunk bytes per Read, as a provider's stream does
// one event at a time; it allocates nothing.
type chunked struct {
	data  []byte
	chunk int
	off   int
}

func (c *chunked) Read(p []byte) (int, error) {
	if c.off == len(c.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.chunk)], c.data[c.off:])
	c.off += n
	return n, nil
}

func (*chunked) Close() error { return nil }

// BenchmarkRedactReader measures the redacting reader against a plain
// io.Copy of the same stream in the same run ("copy" is the baseline): a
// chat completion stream read one event at a time, the same in 32 KiB
// reads, and a stream that echoes the key in every event.
func BenchmarkRedactReader(b *testing.B) {
	key := "sk-proj-" + strings.Repeat("Ab3_xY9-Qz", 15) + "T3BlbkFJ" // as long as an OpenAI project key
	event := `data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741569952,` +
		`"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]}` + "\n\n"
	echo := `data: {"error":{"message":"key ` + key + ` is over its quota"}}` + "\n\n"
	c := NewCutter(Needles(key))
	for _, s := range []struct {
		name  string
		event string
		chunk int
	}{
		{"sse-events", event, len(event)},
		{"bulk-32KiB", event, 32 << 10},
		{"sse-key-in-every-event", echo, len(echo)},
	} {
		stream := []byte(strings.Repeat(s.event, (1<<20)/len(s.event)))
		for _, mode := range []string{"copy", "redact"} {
			b.Run(s.name+"/"+mode, func(b *testing.B) {
				src := &chunked{data: stream, chunk: s.chunk}
				b.SetBytes(int64(len(stream)))
				b.ReportAllocs()
				for b.Loop() {
					src.off = 0
					var r io.Reader = src
					if mode == "redact" {
						r = c.Reader(src)
					}
					if _, err := io.Copy(io.Discard, r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
