package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// maxEventBytes bounds one SSE event so a broken upstream cannot make the
// gateway buffer without limit.
const maxEventBytes = 8 << 20

// ErrEventTooLarge: an SSE event exceeded maxEventBytes.
var ErrEventTooLarge = errors.New("server-sent event larger than 8 MiB")

// EventReader splits a server-sent-events stream into whole events, so a
// relay can forward (and flush) exactly one event at a time and knows where
// it may insert an event of its own. Not safe for concurrent use.
type EventReader struct {
	r   *bufio.Reader
	buf []byte
}

// NewEventReader reads events from r.
func NewEventReader(r io.Reader) *EventReader {
	return &EventReader{r: bufio.NewReaderSize(r, 32<<10)}
}

// Next returns the next event's raw bytes, including the blank line that ends
// it. The slice is valid until the next call. At the end of the stream it
// returns io.EOF if the last event was complete and io.ErrUnexpectedEOF if
// the stream stopped in the middle of one.
func (e *EventReader) Next() ([]byte, error) {
	e.buf = e.buf[:0]
	for {
		line, err := e.r.ReadSlice('\n')
		e.buf = append(e.buf, line...)
		if len(e.buf) > maxEventBytes {
			return nil, ErrEventTooLarge
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if onlyASCIISpace(e.buf) {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		case err != nil:
			return nil, err
		}
		if isBlankLine(line) {
			if onlyASCIISpace(e.buf) { // stray blank lines between events
				e.buf = e.buf[:0]
				continue
			}
			return e.buf, nil
		}
	}
}

// onlyASCIISpace reports whether b holds nothing but ASCII whitespace. Not
// bytes.TrimSpace: its Unicode spaces (U+3000, U+0085) are field bytes to an
// SSE parser, so a block holding one is an event, not padding.
func onlyASCIISpace(b []byte) bool {
	return len(bytes.Trim(b, asciiSpace)) == 0
}

const asciiSpace = " \t\r\n\v\f"

func isBlankLine(line []byte) bool {
	return len(line) == 1 || (len(line) == 2 && line[0] == '\r')
}

// EventData returns the payload of an event: its data lines joined by "\n",
// as the SSE specification defines. nil when the event has no data line.
func EventData(event []byte) []byte {
	var out []byte
	found := false
	for line := range bytes.Lines(event) {
		line = bytes.TrimRight(line, "\r\n")
		rest, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		rest = bytes.TrimPrefix(rest, []byte(" "))
		if found {
			out = append(out, '\n')
		}
		out = append(out, rest...)
		found = true
	}
	return out
}

// EventName returns the event's "event:" field, "" when it has none.
func EventName(event []byte) string {
	for line := range bytes.Lines(event) {
		line = bytes.TrimRight(line, "\r\n")
		if rest, ok := bytes.CutPrefix(line, []byte("event:")); ok {
			return string(bytes.TrimPrefix(rest, []byte(" ")))
		}
	}
	return ""
}
