package protocol

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEventReader_SplitsEvents(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		want    []string
		wantEnd error
	}{
		{"openai", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []string{"data: {\"a\":1}\n\n", "data: [DONE]\n\n"}, io.EOF},
		{"crlf", "event: ping\r\ndata: {}\r\n\r\n", []string{"event: ping\r\ndata: {}\r\n\r\n"}, io.EOF},
		{"comments and stray blanks", "\n: keep-alive\n\n\n\ndata: x\n\n", []string{": keep-alive\n\n", "data: x\n\n"}, io.EOF},
		{"truncated", "data: {\"a\":1}\n\ndata: {\"b\"", []string{"data: {\"a\":1}\n\n"}, io.ErrUnexpectedEOF},
		{"missing blank line", "data: x\n", nil, io.ErrUnexpectedEOF},
		{"empty", "", nil, io.EOF},
	}
	for _, tt := range tests {
		r := NewEventReader(strings.NewReader(tt.stream))
		var got []string
		var err error
		for {
			var ev []byte
			ev, err = r.Next()
			if err != nil {
				break
			}
			got = append(got, string(ev))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s events (-want +got):\n%s", tt.name, diff)
		}
		if !errors.Is(err, tt.wantEnd) {
			t.Errorf("%s: end %v, want %v", tt.name, err, tt.wantEnd)
		}
	}
}

func TestEventReader_LongEvent(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	r := NewEventReader(strings.NewReader("data: " + long + "\n\n"))
	ev, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if string(EventData(ev)) != long {
		t.Errorf("long event data mangled: %d bytes", len(EventData(ev)))
	}
}

func TestEventData(t *testing.T) {
	ev := []byte("event: message_start\ndata: {\"a\":\ndata:1}\nid: 3\n\n")
	if got := string(EventData(ev)); got != "{\"a\":\n1}" {
		t.Errorf("EventData = %q", got)
	}
	if got := EventName(ev); got != "message_start" {
		t.Errorf("EventName = %q", got)
	}
	if EventData([]byte(": comment\n\n")) != nil {
		t.Error("comment has data")
	}
}
