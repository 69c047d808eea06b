package anthropic

import (
	"errors"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/protocol"
)

// Structured output maps both ways: Anthropic's output_config.format (and
// the older output_format) is the internal Output, and back.
func TestOutputFormat_RoundTrip(t *testing.T) {
	const base = `"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]`
	schema := `{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"],"additionalProperties":false}`
	for _, body := range []string{
		`{` + base + `,"output_config":{"format":{"type":"json_schema","schema":` + schema + `}}}`,
		`{` + base + `,"output_format":{"type":"json_schema","schema":` + schema + `}}`,
	} {
		req, err := DecodeMessagesRequest([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if req.Output == nil || string(req.Output.Schema) != schema || req.Untranslatable != nil || req.Dropped != nil {
			t.Fatalf("%s: Output %+v, Untranslatable %v, Dropped %v", body, req.Output, req.Untranslatable, req.Dropped)
		}
		out, _, err := EncodeMessagesRequest(req, EncodeOptions{})
		if err != nil || !strings.Contains(string(out), `"output_config":{"format":{"type":"json_schema","schema":`+schema+`}}`) {
			t.Errorf("encoded %s, %v", out, err)
		}
	}
	// Any JSON object (OpenAI's json_object) is the schema {"type":"object"}.
	req := protocol.Request{Model: "m", Output: &protocol.OutputFormat{},
		Messages: []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "hi"}}}}}
	out, _, err := EncodeMessagesRequest(req, EncodeOptions{})
	if err != nil || !strings.Contains(string(out), `"format":{"type":"json_schema","schema":{"type":"object"}}`) {
		t.Errorf("json_object encoded as %s, %v", out, err)
	}
	if _, err := DecodeMessagesRequest([]byte(`{` + base + `,"output_config":{"format":{"type":"regex"}}}`)); err == nil {
		t.Error("a format type other than json_schema was accepted")
	}
}

func TestEncodeMessagesRequest_RefusesUntranslatable(t *testing.T) {
	req := protocol.Request{Model: "m", Untranslatable: []string{"audio", "modalities"},
		Messages: []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "hi"}}}}}
	_, _, err := EncodeMessagesRequest(req, EncodeOptions{DefaultMaxTokens: 100})
	var re *protocol.RequestError
	if !errors.As(err, &re) || re.Param != "audio" {
		t.Errorf("error %v, want a RequestError naming audio", err)
	}
}
