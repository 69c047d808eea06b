package anthropic

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkGolden compares got with the golden file path, or rewrites the file
// under -update.
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
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// inputs lists the files of dir ending in ext, by name without ext.
func inputs(t testing.TB, dir, ext string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no %s files in testdata/%s: %v", ext, dir, err)
	}
	out := map[string]string{}
	for _, p := range paths {
		out[strings.TrimSuffix(filepath.Base(p), ext)] = p
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// render shows an internal value as indented JSON with Go field names,
// leaving out zero fields (nil pointers go, pointers to zero stay: a
// temperature of 0 is not an absent one). The output reads back with
// json.Unmarshal, so encode tests take the same format as input.
func render(t *testing.T, v any) []byte {
	t.Helper()
	raw, _ := prune(reflect.ValueOf(v))
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		t.Fatalf("render: %v\n%s", err, raw)
	}
	return append(buf.Bytes(), '\n')
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// prune renders v as JSON and reports whether it is worth showing.
func prune(v reflect.Value) (json.RawMessage, bool) {
	switch {
	case !v.IsValid():
		return json.RawMessage("null"), false
	case v.Type() == rawMessageType:
		if v.Len() == 0 {
			return nil, false
		}
		if json.Valid(v.Bytes()) {
			return json.RawMessage(v.Bytes()), true
		}
		b, _ := protocol.Marshal(string(v.Bytes()))
		return b, true
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, false
		}
		raw, _ := prune(v.Elem())
		return raw, true
	case reflect.Struct:
		return pruneStruct(v)
	case reflect.Slice:
		if v.Len() == 0 {
			return nil, false
		}
		parts := make([]string, v.Len())
		for i := range v.Len() {
			raw, _ := prune(v.Index(i))
			parts[i] = string(raw)
		}
		return json.RawMessage("[" + strings.Join(parts, ",") + "]"), true
	}
	b, err := protocol.Marshal(v.Interface())
	if err != nil {
		panic(err)
	}
	return b, !v.IsZero()
}

func pruneStruct(v reflect.Value) (json.RawMessage, bool) {
	var parts []string
	for i := range v.NumField() {
		raw, ok := prune(v.Field(i))
		if ok {
			name, _ := json.Marshal(v.Type().Field(i).Name)
			parts = append(parts, string(name)+":"+string(raw))
		}
	}
	return json.RawMessage("{" + strings.Join(parts, ",") + "}"), len(parts) > 0
}

// eventView is an Event as the golden files show it: Index is there for
// block events, even when 0.
type eventView struct {
	Type         protocol.EventType
	ID           string
	Model        string
	Index        *int
	Block        *protocol.Block
	DeltaType    protocol.DeltaType
	Delta        string
	StopReason   protocol.StopReason
	StopSequence string
	Usage        protocol.Usage
	Err          *protocol.StreamError
}

func viewEvents(evs []protocol.Event) []eventView {
	out := make([]eventView, 0, len(evs))
	for _, ev := range evs {
		v := eventView{ev.Type, ev.ID, ev.Model, nil, ev.Block, ev.DeltaType, ev.Delta, ev.StopReason, ev.StopSequence, ev.Usage, ev.Err}
		switch ev.Type {
		case protocol.EventBlockStart, protocol.EventDelta, protocol.EventBlockStop:
			v.Index = &ev.Index
		}
		out = append(out, v)
	}
	return out
}

// indentJSON pretty-prints a wire body for a golden file.
func indentJSON(t *testing.T, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	return append(buf.Bytes(), '\n')
}

// decodeStream feeds a whole SSE stream to a StreamDecoder, as the gateway
// does, and returns the events and the first error (Decode's, with the
// event's number, or Finish's).
func decodeStream(sse []byte) ([]protocol.Event, error) {
	d := NewStreamDecoder()
	r := protocol.NewEventReader(bytes.NewReader(sse))
	var all []protocol.Event
	for n := 1; ; n++ {
		raw, err := r.Next()
		if err != nil {
			evs, ferr := d.Finish()
			return append(all, evs...), ferr
		}
		evs, err := d.Decode(raw)
		all = append(all, evs...)
		if err != nil {
			return all, fmt.Errorf("event %d: %w", n, err)
		}
	}
}

func encodeStream(evs []protocol.Event) []byte {
	e := NewStreamEncoder()
	var out []byte
	for _, ev := range evs {
		out = append(out, e.Encode(ev)...)
	}
	return out
}
