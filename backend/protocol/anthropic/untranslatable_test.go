package anthropic

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

func TestDecodeMessagesRequest_NotesUntranslatableFields(t *testing.T) {
	const base = `"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]`
	tests := map[string][]string{
		`{` + base + `}`: nil,
		`{` + base + `,"service_tier":"auto","output_config":{"effort":"low"}}`:        nil,
		`{` + base + `,"mcp_servers":[{"type":"url","url":"https://x","name":"x"}]}`:   {"mcp_servers"},
		`{` + base + `,"context_management":{"edits":[]},"container":"c1"}`:            {"context_management", "container"},
		`{` + base + `,"output_config":{"format":{"type":"json_schema","schema":{}}}}`: {"output_config.format"},
	}
	for body, want := range tests {
		req, err := DecodeMessagesRequest([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if diff := cmp.Diff(want, req.Untranslatable); diff != "" {
			t.Errorf("%s (-want +got):\n%s", body, diff)
		}
	}
}

func TestEncodeMessagesRequest_RefusesUntranslatable(t *testing.T) {
	req := protocol.Request{Model: "m", Untranslatable: []string{"audio", "modalities"},
		Messages: []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "hi"}}}}}
	_, err := EncodeMessagesRequest(req, 100)
	var re *protocol.RequestError
	if !errors.As(err, &re) || re.Param != "audio" {
		t.Errorf("error %v, want a RequestError naming audio", err)
	}
}
