package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestSetTopLevelString_KeepsEveryOtherByte(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"simple", `{"model":"fast","messages":[]}`, `{"model":"gpt-4o-mini","messages":[]}`},
		{"spacing kept", "{ \"messages\" : [ {\"role\":\"user\"} ] ,\n \"model\" :  \"fast\"  , \"x\":1.50e3 }", "{ \"messages\" : [ {\"role\":\"user\"} ] ,\n \"model\" :  \"gpt-4o-mini\"  , \"x\":1.50e3 }"},
		{"nested model untouched", `{"tools":[{"model":"fast"}],"model":"fast"}`, `{"tools":[{"model":"fast"}],"model":"gpt-4o-mini"}`},
		{"number before", `{"n":12345,"model":"fast","t":0.7}`, `{"n":12345,"model":"gpt-4o-mini","t":0.7}`},
		{"non-string model", `{"model":null}`, `{"model":"gpt-4o-mini"}`},
		{"duplicate keys", `{"model":"a","model":"b"}`, `{"model":"gpt-4o-mini","model":"gpt-4o-mini"}`},
		{"missing key added", `{"a":1}`, `{"a":1,"model":"gpt-4o-mini"}`},
		{"empty object", `{ }`, `{ "model":"gpt-4o-mini"}`},
		{"escaped key", `{"mod\u0065l":"x"}`, `{"mod\u0065l":"gpt-4o-mini"}`},
		{"unicode kept", `{"model":"x","c":"héllo \ud83d\ude00"}`, `{"model":"gpt-4o-mini","c":"héllo \ud83d\ude00"}`},
	}
	for _, tt := range tests {
		got, err := SetTopLevelString([]byte(tt.in), "model", "gpt-4o-mini")
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestSetTopLevelString_RefusesNonObjects(t *testing.T) {
	for _, in := range []string{``, `[]`, `"model"`, `{"model":"x"`, `{"model":"x"} {}`, `{"model":}`, `{"a":1,}`} {
		if _, err := SetTopLevelString([]byte(in), "model", "m"); err == nil {
			t.Errorf("SetTopLevelString(%q) succeeded, want an error", in)
		}
	}
}

// BenchmarkSetTopLevelString rewrites the model of a long conversation
// (about 400 KB of messages), as every pass-through request does.
func BenchmarkSetTopLevelString(b *testing.B) {
	msg := `{"role":"user","content":"` + strings.Repeat("lorem ipsum dolor sit amet \\\"quoted\\\" ", 40) + `"},`
	body := []byte(`{"model":"fast","messages":[` + strings.Repeat(msg, 300) + `{"role":"user","content":"hi"}],"stream":true}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := SetTopLevelString(body, "model", "gpt-4o-mini"); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzSetTopLevelString(f *testing.F) {
	f.Add([]byte(`{"model":"fast","messages":[{"role":"user","content":"hi"}],"stream":true}`))
	f.Add([]byte(`{"a":[1,2,{"model":3}],"model" : "x" }`))
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := SetTopLevelString(body, "model", "m")
		if err != nil {
			return
		}
		var doc, in map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("output is not JSON: %v\n in: %q\nout: %q", err, body, out)
		}
		if doc["model"] != "m" {
			t.Fatalf("model = %v in %q", doc["model"], out)
		}
		// Nothing else changed.
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %q", body)
		}
		delete(in, "model")
		delete(doc, "model")
		if !reflect.DeepEqual(in, doc) {
			t.Fatalf("other members changed:\n in: %q\nout: %q", body, out)
		}
	})
}
