package openai

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

// Fields that change what the model produces and that no other API can
// carry are noted, so a translation refuses them; hints and fields newer
// than this code are noted as dropped, so a translation leaves them out and
// says so.
func TestDecodeChatRequest_NotesUntranslatableAndDroppedFields(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		body                    string
		untranslatable, dropped []string
	}{
		{`{"model":"m",` + msgs + `}`, nil, nil},
		{`{"model":"m",` + msgs + `,"modalities":["text"],"store":true,"service_tier":"auto"}`, nil, []string{"service_tier", "store"}},
		{`{"model":"m",` + msgs + `,"modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"}}`, []string{"audio", "modalities"}, nil},
		{`{"model":"m",` + msgs + `,"prediction":{"type":"content","content":"x"}}`, nil, []string{"prediction"}},
		{`{"model":"m",` + msgs + `,"web_search_options":{}}`, nil, []string{"web_search_options"}},
		{`{"model":"m",` + msgs + `,"metadata":{"k":"v"},"prompt_cache_key":"c","safety_identifier":"s","verbosity":"low","some_field_of_2027":{"x":1}}`,
			nil, []string{"metadata", "prompt_cache_key", "safety_identifier", "some_field_of_2027", "verbosity"}},
		{`{"model":"m",` + msgs + `,"reasoning_effort":"ultra"}`, nil, []string{"reasoning_effort=ultra"}},
		{`{"model":"m",` + msgs + `,"store":null}`, nil, nil},
	}
	for _, tt := range tests {
		req, err := DecodeChatRequest([]byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if diff := cmp.Diff(tt.untranslatable, req.Untranslatable); diff != "" {
			t.Errorf("%s: untranslatable (-want +got):\n%s", tt.body, diff)
		}
		if diff := cmp.Diff(tt.dropped, req.Dropped); diff != "" {
			t.Errorf("%s: dropped (-want +got):\n%s", tt.body, diff)
		}
	}
}

func TestEncodeChatRequest_RefusesUntranslatable(t *testing.T) {
	req := protocol.Request{Model: "m", Untranslatable: []string{"mcp_servers"},
		Messages: []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "hi"}}}}}
	_, _, err := EncodeChatRequest(req, EncodeOptions{})
	var re *protocol.RequestError
	if !errors.As(err, &re) || re.Param != "mcp_servers" {
		t.Errorf("error %v, want a RequestError naming mcp_servers", err)
	}
}

// vLLM's and llama.cpp's sampling extensions are read (0 and 1 mean off)
// and passed on to OpenAI-compatible backends; Anthropic refuses them.
func TestSamplingExtensions(t *testing.T) {
	req, err := DecodeChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"min_p":0.05,"repetition_penalty":1.1}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.MinP == nil || *req.MinP != 0.05 || req.RepetitionPenalty == nil || *req.RepetitionPenalty != 1.1 {
		t.Fatalf("decoded %v %v", req.MinP, req.RepetitionPenalty)
	}
	body, _, err := EncodeChatRequest(req, EncodeOptions{})
	if err != nil || !strings.Contains(string(body), `"min_p":0.05`) || !strings.Contains(string(body), `"repetition_penalty":1.1`) {
		t.Errorf("encoded %s %v", body, err)
	}
	off, err := DecodeChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"min_p":0,"repetition_penalty":1}`))
	if err != nil || off.MinP != nil || off.RepetitionPenalty != nil {
		t.Errorf("neutral values kept: %v %v %v", off.MinP, off.RepetitionPenalty, err)
	}
	if _, err := DecodeChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"min_p":2}`)); err == nil {
		t.Error("min_p 2 accepted")
	}
}
