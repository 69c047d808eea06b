package redact

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// script is a source that yields its chunks one Read at a time and, at
// every Read, calls check with what it has yielded so far: the reader
// asks for more only once its consumer has everything it could pass on, so
// check sees what the consumer got without the chunks still to come.
type script struct {
	chunks      [][]byte
	end         error // after the last chunk; io.EOF if nil
	endWithLast bool  // return end with the last chunk, as some bodies do
	fed         []byte
	check       func(fed []byte)
	closed      bool
}

func (s *script) Read(p []byte) (int, error) {
	s.check(s.fed)
	end := s.end
	if end == nil {
		end = io.EOF
	}
	if len(s.chunks) == 0 {
		return 0, end
	}
	n := copy(p, s.chunks[0])
	s.fed = append(s.fed, s.chunks[0][:n]...)
	if s.chunks[0] = s.chunks[0][n:]; len(s.chunks[0]) == 0 {
		s.chunks = s.chunks[1:]
	}
	if len(s.chunks) == 0 && s.endWithLast {
		return n, end
	}
	return n, nil
}

func (s *script) Close() error { s.closed = true; return nil }

// drain reads r to its end into *got with reads of the given sizes, in turn.
func drain(r io.Reader, got *[]byte, sizes []int) error {
	for i := 0; ; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		n, err := r.Read(p)
		*got = append(*got, p[:n]...)
		if err != nil {
			return err
		}
	}
}

const streamKey = "sk-abcdefgh12"

func TestReader_PassesOnAllButAPossibleNeedle(t *testing.T) {
	byteByByte := []string{"x"}
	for _, b := range []byte(streamKey) {
		byteByByte = append(byteByByte, string(b))
	}
	byteByByte = append(byteByByte, "y")
	heldKey := []string{"x"} // after "x" and each byte of the key but its last
	for range len(streamKey) - 1 {
		heldKey = append(heldKey, "x")
	}
	tests := []struct {
		name    string
		needles []string // nil: Needles(streamKey)
		chunks  []string
		end     error
		want    []string // what the consumer has after each chunk
		final   string
	}{
		{"events pass at once", nil, []string{"data: {\"a\":1}\n\n", "data: {\"a\":2}\n\n"}, nil,
			[]string{"data: {\"a\":1}\n\n", "data: {\"a\":1}\n\ndata: {\"a\":2}\n\n"}, "data: {\"a\":1}\n\ndata: {\"a\":2}\n\n"},
		{"key split across reads", nil, []string{`data: {"k":"sk-ab`, `cdefgh12"}` + "\n\n"}, nil,
			[]string{`data: {"k":"`, `data: {"k":"[REDACTED]"}` + "\n\n"}, `data: {"k":"[REDACTED]"}` + "\n\n"},
		{"key byte by byte", nil, byteByByte, nil, append(heldKey, "x[REDACTED]", "x[REDACTED]y"), "x[REDACTED]y"},
		{"false start passes when it fails", nil, []string{"a sk-ab", "X"}, nil, []string{"a ", "a sk-abX"}, "a sk-abX"},
		{"held tail flushed at the end", nil, []string{"a sk-abc"}, nil, []string{"a "}, "a sk-abc"},
		{"held tail flushed on an error", nil, []string{"a sk-abc"}, errors.New("connection reset"), []string{"a "}, "a sk-abc"},
		{"longer needle awaited", []string{"abc", "abcdef"}, []string{"xabc", "de", "f"}, nil, []string{"x", "x", "x[REDACTED]"}, "x[REDACTED]"},
		{"shorter needle when the longer fails", []string{"abc", "abcdef"}, []string{"xabc", "dz"}, nil, []string{"x", "x[REDACTED]dz"}, "x[REDACTED]dz"},
		{"empty reads", nil, []string{"", "a", "", "sk-abcdefgh12", ""}, nil, []string{"", "a", "a", "a[REDACTED]", "a[REDACTED]"}, "a[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needles := Needles(streamKey)
			if tt.needles != nil {
				needles = nil
				for _, n := range tt.needles {
					needles = append(needles, []byte(n))
				}
			}
			var got []byte
			var seen []string
			src := &script{end: tt.end, check: func([]byte) { seen = append(seen, string(got)) }}
			for _, c := range tt.chunks {
				src.chunks = append(src.chunks, []byte(c))
			}
			r := NewCutter(needles).Reader(src)
			err := drain(r, &got, []int{4096})
			wantErr := tt.end
			if wantErr == nil {
				wantErr = io.EOF
			}
			if err != wantErr {
				t.Errorf("error %v, want %v", err, wantErr)
			}
			// seen[0] is before the first chunk, seen[i] after chunk i-1.
			if diff := cmp.Diff(tt.want, seen[1:]); diff != "" {
				t.Errorf("passed on after each chunk (-want +got):\n%s", diff)
			}
			if string(got) != tt.final {
				t.Errorf("got %q, want %q", got, tt.final)
			}
			if r.Close(); !src.closed {
				t.Error("Close did not close the source")
			}
		})
	}
}

// FuzzRedactReader checks the reader under arbitrary chunkings, read
// sizes and needle sets against refCut: after every read from the source
// the consumer must have exactly what refCut settles of the input so far,
// and at the end exactly refCut of all of it.
//
// In plan, byte 0 followed by k stands for needle k, and byte 1 followed
// by k and l for its first l bytes, so that needles and near misses are
// common; other bytes stand for themselves. extra holds more needles,
// separated by 0. cuts gives the chunk sizes (and the read sizes, and in
// its first byte how the stream ends).
func FuzzRedactReader(f *testing.F) {
	f.Add([]byte("data: \x00\x00\n\n"), streamKey, []byte(nil), []byte{5, 3, 1})
	f.Add([]byte("x\x01\x00\x05 \x00\x03y\x00\x07\x00\x08"), streamKey, []byte("abc\x00abcdef"), []byte{0x41, 1, 1, 0, 2})
	f.Add([]byte("\x00\x05\x01\x06\x03\x00\x06aab"), "user:pass-123456", []byte("aab\x00ab"), []byte{0x82})
	f.Add([]byte("plain text with no needle at all"), "sk-x", []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, plan []byte, secret string, extra []byte, cuts []byte) {
		needles := Needles(secret)
		for _, n := range bytes.SplitN(extra, []byte{0}, 16) {
			if len(n) > 0 {
				needles = append(needles, n)
			}
		}
		if len(needles) == 0 {
			return
		}
		in := expand(plan, needles)
		src := &script{chunks: chunk(in, cuts)}
		if len(cuts) > 0 {
			if cuts[0]&0x80 != 0 {
				src.end = errors.New("connection reset")
			}
			src.endWithLast = cuts[0]&0x40 != 0
		}
		var got []byte
		src.check = func(fed []byte) {
			if want := refCut(needles, fed, false); !bytes.Equal(got, want) {
				t.Fatalf("after %q the consumer has %q, want %q", fed, got, want)
			}
		}
		sizes := []int{4096}
		for _, c := range cuts {
			sizes = append(sizes, 1+int(c>>4)%8)
		}
		err := drain(NewCutter(needles).Reader(src), &got, sizes)
		if want := refCut(needles, in, true); !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		if (src.end == nil && err != io.EOF) || (src.end != nil && err != src.end) {
			t.Fatalf("error %v, want %v", err, src.end)
		}
	})
}

// expand writes out a FuzzRedactReader plan.
func expand(plan []byte, needles [][]byte) []byte {
	var in []byte
	for i := 0; i < len(plan); i++ {
		switch {
		case plan[i] == 0 && i+1 < len(plan):
			in = append(in, needles[int(plan[i+1])%len(needles)]...)
			i++
		case plan[i] == 1 && i+2 < len(plan):
			n := needles[int(plan[i+1])%len(needles)]
			in = append(in, n[:int(plan[i+2])%len(n)]...)
			i += 2
		default:
			in = append(in, plan[i])
		}
	}
	return in
}

// chunk splits in into chunks of the sizes cuts gives (0 to 8 bytes, so
// empty reads too), and the rest.
func chunk(in, cuts []byte) [][]byte {
	var chunks [][]byte
	for _, c := range cuts {
		n := min(int(c)%9, len(in))
		chunks = append(chunks, in[:n])
		in = in[n:]
	}
	return append(chunks, in)
}

func TestReader_SourceErrorReturnedOnceDrained(t *testing.T) {
	src := &script{chunks: [][]byte{[]byte("abc sk-abcd")}, end: io.ErrUnexpectedEOF, endWithLast: true, check: func([]byte) {}}
	var got []byte
	err := drain(NewCutter(Needles(streamKey)).Reader(src), &got, []int{3})
	if err != io.ErrUnexpectedEOF || string(got) != "abc sk-abcd" {
		t.Errorf("got %q, %v", got, err)
	}
	if strings.Contains(string(got), redacted) {
		t.Error("a partial key was cut")
	}
}

func TestReader_NilCutterReturnsTheSource(t *testing.T) {
	src := &script{check: func([]byte) {}}
	if r := (*Cutter)(nil).Reader(src); r != src {
		t.Errorf("Reader = %v, want the source itself", r)
	}
}

func TestReader_EmptyReadDoesNotReadTheSource(t *testing.T) {
	src := &script{chunks: [][]byte{[]byte("data")}, check: func([]byte) { t.Error("an empty Read read the source") }}
	if n, err := NewCutter(Needles(streamKey)).Reader(src).Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v", n, err)
	}
}
