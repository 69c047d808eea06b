package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// FuzzEventReader: any bytes, however the reader hands them over, split
// into events that tile the input in order: between events only whitespace
// (stray blank lines), each event one blank-line-terminated block with no
// earlier blank line, and after the last one whitespace (io.EOF) or a cut
// event (io.ErrUnexpectedEOF). EventData and EventName take any event. A
// stream built from the input's fields as well-formed events (see
// wellFormedStream) reads back event for event, name and data intact.
func FuzzEventReader(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("event: ping\r\ndata: {}\r\n\r\n"))
	f.Add([]byte("\n: keep-alive\n\n\n\ndata: x\n\n"))
	f.Add([]byte("data: {\"a\":1}\n\ndata: {\"b\""))
	f.Add([]byte("event: message_start\ndata: {\"a\":\ndata:1}\nid: 3\n\n \t\n\r\n"))
	f.Add([]byte("  \n\n\r\r\n\rdata:\r\n\n\x00message_delta\ndata: \x00\x00event:\n"))
	f.Add(append(append([]byte("data: "), bytes.Repeat([]byte("x"), 40<<10)...), "\n\n"...)) // longer than the reader's buffer
	f.Fuzz(func(t *testing.T, in []byte) {
		events, err := readEvents(NewEventReader(bytes.NewReader(in)), len(in))
		checkTiling(t, in, events, err)
		again, err2 := readEvents(NewEventReader(iotest.HalfReader(iotest.OneByteReader(bytes.NewReader(in)))), len(in))
		if diff := cmp.Diff(events, again); diff != "" || !errors.Is(err2, err) {
			t.Fatalf("read in small pieces: end %v, not %v; events (-whole +pieces):\n%s", err2, err, diff)
		}
		for _, ev := range events {
			_ = EventData(ev)
			_ = EventName(ev)
		}
		_, _ = EventData(in), EventName(in)

		stream, want := wellFormedStream(in)
		got, err := readEvents(NewEventReader(bytes.NewReader(stream)), len(stream))
		if err != io.EOF {
			t.Fatalf("well-formed stream ends with %v, not io.EOF\n%q", err, stream)
		}
		var decoded []sseField
		for _, ev := range got {
			decoded = append(decoded, sseField{Name: EventName(ev), Data: string(EventData(ev))})
		}
		if diff := cmp.Diff(want, decoded); diff != "" {
			t.Fatalf("well-formed stream (-want +got):\n%s\nstream: %q", diff, stream)
		}
	})
}

// readEvents reads to the end, copying each event. More events than bytes
// in the input means the reader is not making progress.
func readEvents(r *EventReader, size int) ([][]byte, error) {
	var events [][]byte
	for {
		ev, err := r.Next()
		if err != nil {
			return events, err
		}
		events = append(events, bytes.Clone(ev))
		if len(events) > size {
			return events, fmt.Errorf("%d events from %d bytes: no progress", len(events), size)
		}
	}
}

// checkTiling checks that the events are the input in order, with only
// whitespace left out.
func checkTiling(t *testing.T, in []byte, events [][]byte, end error) {
	t.Helper()
	rest := in
	for i, ev := range events {
		at := bytes.Index(rest, ev)
		if at < 0 {
			t.Fatalf("event %d %q is not next in the input (rest %q)", i, ev, rest)
		}
		if gap := rest[:at]; len(bytes.Trim(gap, " \t\r\n\v\f")) != 0 {
			t.Fatalf("before event %d %q, non-blank bytes were dropped: %q", i, ev, gap)
		}
		if len(bytes.Trim(ev, " \t\r\n\v\f")) == 0 {
			t.Fatalf("event %d is blank: %q", i, ev)
		}
		lines := bytes.SplitAfter(ev, []byte("\n"))
		lines = lines[:len(lines)-1] // "" after the final "\n"
		for k, line := range lines {
			if blank := isBlankLine(line); blank != (k == len(lines)-1) {
				t.Fatalf("event %d %q: line %d %q blank=%v", i, ev, k, line, blank)
			}
		}
		rest = rest[at+len(ev):]
	}
	switch {
	case end == io.EOF && len(bytes.Trim(rest, " \t\r\n\v\f")) != 0:
		t.Fatalf("io.EOF with unread non-blank bytes %q", rest)
	case errors.Is(end, io.ErrUnexpectedEOF) && len(bytes.Trim(rest, " \t\r\n\v\f")) == 0:
		t.Fatalf("io.ErrUnexpectedEOF with only %q left", rest)
	case end != io.EOF && !errors.Is(end, io.ErrUnexpectedEOF):
		t.Fatalf("the stream ends with %v", end)
	}
}

type sseField struct{ Name, Data string }

// wellFormedStream makes an SSE stream from arbitrary bytes: each
// NUL-separated field is one event, its first line the event name (none when
// empty) and the other lines its data lines (one empty data line when there
// are none). CRs are dropped (the reader splits on LF only, and a trailing CR
// belongs to the line ending); every other event uses CRLF line endings and
// carries a comment and an id; stray blank lines separate some events.
func wellFormedStream(in []byte) ([]byte, []sseField) {
	var out bytes.Buffer
	var want []sseField
	for i, field := range strings.Split(strings.ReplaceAll(string(in), "\r", ""), "\x00") {
		name, data, _ := strings.Cut(field, "\n")
		eol := "\n"
		if i%2 == 1 {
			eol = "\r\n"
			fmt.Fprintf(&out, ": comment %d%sid: %d%s", i, eol, i, eol)
		}
		if name != "" {
			out.WriteString("event: " + name + eol)
		}
		for line := range strings.SplitSeq(data, "\n") {
			out.WriteString("data: " + line + eol)
		}
		out.WriteString(eol)
		if i%3 == 2 {
			out.WriteString("\n\r\n")
		}
		want = append(want, sseField{Name: name, Data: data})
	}
	return out.Bytes(), want
}
