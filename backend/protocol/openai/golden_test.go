package openai

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenCases calls f for every file in dir ending in ext, with the path of
// its golden file.
func goldenCases(t *testing.T, dir, ext string, f func(t *testing.T, in []byte, golden string)) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"+ext))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test cases in testdata/%s (%v)", dir, err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ext)
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f(t, in, strings.TrimSuffix(path, ext)+".golden")
		})
	}
}

// checkGolden compares got with the golden file, or rewrites it with -update.
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

// indentJSON pretty-prints a JSON document for a golden file.
func indentJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return append(buf.Bytes(), '\n')
}

// render writes a value of the internal model as indented JSON with its Go
// field names, leaving out fields that hold their zero value (a pointer to
// 0 is not zero) so that goldens show what was set.
func render(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	renderValue(&buf, reflect.ValueOf(v))
	return indentJSON(t, buf.Bytes())
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	eventType      = reflect.TypeFor[protocol.Event]()
)

func renderValue(buf *bytes.Buffer, v reflect.Value) {
	switch {
	case v.Type() == rawMessageType && v.Len() > 0:
		buf.Write(v.Bytes())
	case v.Kind() == reflect.Pointer && !v.IsNil():
		renderValue(buf, v.Elem())
	case v.Kind() == reflect.Struct:
		renderStruct(buf, v)
	case v.Kind() == reflect.Slice && !v.IsNil() && v.Type() != rawMessageType:
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			renderValue(buf, v.Index(i))
		}
		buf.WriteByte(']')
	default:
		b, _ := protocol.Marshal(v.Interface())
		buf.Write(b)
	}
}

func renderStruct(buf *bytes.Buffer, v reflect.Value) {
	buf.WriteByte('{')
	n := 0
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		if f.IsZero() && !(v.Type() == eventType && name == "Index" && isBlockEvent(v)) {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		buf.WriteString(`"` + name + `"`)
		buf.WriteByte(':')
		renderValue(buf, f)
	}
	buf.WriteByte('}')
}

// isBlockEvent: block 0 is a real index, not an unset one.
func isBlockEvent(v reflect.Value) bool {
	switch protocol.EventType(v.FieldByName("Type").String()) {
	case protocol.EventBlockStart, protocol.EventDelta, protocol.EventBlockStop:
		return true
	}
	return false
}

// renderEvents writes events one compact JSON line each.
func renderEvents(t *testing.T, evs []protocol.Event) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, ev := range evs {
		var buf bytes.Buffer
		renderValue(&buf, reflect.ValueOf(ev))
		out.Write(buf.Bytes())
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// loadJSON decodes a testdata input written with the internal model's Go
// field names.
func loadJSON(t *testing.T, in []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("bad test input: %v", err)
	}
}
