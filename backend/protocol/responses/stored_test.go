package responses_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol/responses"
)

func compact(t *testing.T, raws []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, r := range raws {
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		out = append(out, string(b))
	}
	return out
}

func TestInputItems_Normalized(t *testing.T) {
	ids := map[string]int{}
	newID := func(typ string) string { ids[typ]++; return typ + "_id" }
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"string", `{"input":"hi"}`, []string{`{"content":[{"text":"hi","type":"input_text"}],"id":"message_id","role":"user","type":"message"}`}},
		{"easy messages", `{"input":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}`, []string{
			`{"content":[{"text":"q","type":"input_text"}],"id":"message_id","role":"user","type":"message"}`,
			`{"content":[{"text":"a","type":"output_text"}],"id":"message_id","role":"assistant","type":"message"}`}},
		{"ids kept, other items as they are", `{"input":[{"type":"function_call_output","call_id":"c","output":"ok","id":"fco_1"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}]}`, []string{
			`{"call_id":"c","id":"fco_1","output":"ok","type":"function_call_output"}`,
			`{"arguments":"{}","call_id":"c","id":"function_call_id","name":"f","type":"function_call"}`}},
		{"none", `{"model":"m"}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := responses.InputItems([]byte(tc.body), newID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, compact(t, got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := responses.InputItems([]byte(`{"input":[1]}`), newID); err == nil {
		t.Error("a number as an item: no error")
	}
}

func TestContinue_PrependsHistory(t *testing.T) {
	history := []json.RawMessage{json.RawMessage(`{"type":"message","role":"user","content":"hi"}`),
		json.RawMessage(`{"type":"message","role":"assistant","content":[{"type":"output_text","text":"hello"}]}`)}
	got, err := responses.Continue([]byte(`{"model":"m","input":"more","previous_response_id":"resp_1","instructions":"x"}`), history)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	json.Unmarshal(got, &doc)
	if _, ok := doc["previous_response_id"]; ok {
		t.Error("previous_response_id kept")
	}
	var input []json.RawMessage
	json.Unmarshal(doc["input"], &input)
	want := []string{`{"content":"hi","role":"user","type":"message"}`, `{"content":[{"text":"hello","type":"output_text"}],"role":"assistant","type":"message"}`,
		`{"content":"more","role":"user","type":"message"}`}
	if diff := cmp.Diff(want, compact(t, input)); diff != "" {
		t.Errorf("input (-want +got):\n%s", diff)
	}
	req, err := responses.DecodeRequest(got)
	if err != nil || len(req.Messages) != 3 {
		t.Errorf("decoded: %v, %d messages", err, len(req.Messages))
	}
}

func TestFinalResponse(t *testing.T) {
	for _, tc := range []struct {
		name, stream string
		want         string
		ok           bool
	}{
		{"completed", "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"status\":\"in_progress\"}}\n\n" +
			"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"status\":\"completed\"}}\n\n",
			`{"id":"r","status":"completed"}`, true},
		{"incomplete", "data: {\"type\":\"response.incomplete\",\"response\":{\"id\":\"r\"}}\n\n", `{"id":"r"}`, true},
		{"failed", "data: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"r\"}}\n\n", "", false},
		{"broken off", "data: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := responses.FinalResponse([]byte(tc.stream))
			if ok != tc.ok || string(got) != tc.want {
				t.Errorf("FinalResponse = %s, %v; want %s, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
