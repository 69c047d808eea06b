package openai

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/modelbar/modelbar/backend/protocol"
)

// testdata/requests: an OpenAI request → the decoded protocol.Request.
func TestDecodeChatRequest_Golden(t *testing.T) {
	goldenCases(t, "requests", ".json", func(t *testing.T, in []byte, golden string) {
		req, err := DecodeChatRequest(in)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, golden, render(t, req))
	})
}

// testdata/requests_out: a protocol.Request (and options) → the OpenAI body.
func TestEncodeChatRequest_Golden(t *testing.T) {
	goldenCases(t, "requests_out", ".json", func(t *testing.T, in []byte, golden string) {
		var tc struct {
			Options EncodeOptions
			Request protocol.Request
		}
		loadJSON(t, in, &tc)
		body, _, err := EncodeChatRequest(tc.Request, tc.Options)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, golden, indentJSON(t, body))
	})
}

// Decoding what the encoder wrote gives back the request, for requests
// OpenAI can express without loss.
func TestEncodeChatRequest_RoundTrip(t *testing.T) {
	goldenCases(t, "requests", ".json", func(t *testing.T, in []byte, _ string) {
		req, err := DecodeChatRequest(in)
		if err != nil {
			t.Fatal(err)
		}
		body, _, err := EncodeChatRequest(req, EncodeOptions{SendReasoningEffort: true})
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeChatRequest(body)
		if err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		// Known, documented losses: system blocks and the text parts of a
		// message or tool result are joined, stream_options is forced on
		// for a stream.
		want, got := render(t, normalize(req)), render(t, normalize(again))
		if string(want) != string(got) {
			t.Errorf("round trip changed the request:\nfirst:  %s\nsecond: %s", want, got)
		}
	})
}

// normalize joins what the encoder joins.
func normalize(r protocol.Request) protocol.Request {
	if len(r.System) > 0 {
		r.System = []protocol.Block{{Type: protocol.BlockText, Text: joinText(r.System)}}
	}
	msgs := make([]protocol.Message, len(r.Messages))
	for i, m := range r.Messages {
		var out []protocol.Block
		var texts []string
		for _, b := range m.Content {
			switch {
			case b.Type == protocol.BlockText:
				texts = append(texts, b.Text)
			case b.Type == protocol.BlockToolResult:
				b.Content = textBlocks([]string{joinText(b.Content)})
				out = append(out, b)
			case b.Type == protocol.BlockImage && m.Role == protocol.RoleUser:
				out = append(out, textBlocks(texts)...)
				texts = nil
				out = append(out, b)
			default:
				out = append(out, b)
			}
		}
		if len(texts) > 0 {
			out = append(out, textBlocks([]string{joinStrings(texts)})...)
		}
		msgs[i] = protocol.Message{Role: m.Role, Content: orEmpty(out)}
	}
	r.Messages = msgs
	r.IncludeUsage = r.IncludeUsage || r.Stream
	return r
}

func TestEncodeChatRequest_Errors(t *testing.T) {
	img := &protocol.Image{MediaType: "image/png", Data: "AAAA"}
	tests := []struct {
		name      string
		req       protocol.Request
		opts      EncodeOptions
		wantParam string // "": not a RequestError
	}{
		{"tool_use in a user turn", protocol.Request{Messages: []protocol.Message{
			{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockToolUse, ID: "a", Name: "f"}}},
		}}, EncodeOptions{}, "messages.0.content.0"},
		{"image in an assistant turn", protocol.Request{Messages: []protocol.Message{
			{Role: protocol.RoleAssistant, Content: []protocol.Block{{Type: protocol.BlockImage, Image: img}}},
		}}, EncodeOptions{}, "messages.0.content.0"},
		{"unknown role", protocol.Request{Messages: []protocol.Message{{Role: "critic"}}}, EncodeOptions{}, "messages.0.role"},
		{"bad option", protocol.Request{}, EncodeOptions{MaxTokensField: "max_output_tokens"}, ""},
	}
	for _, tt := range tests {
		_, _, err := EncodeChatRequest(tt.req, tt.opts)
		var re *protocol.RequestError
		switch {
		case err == nil:
			t.Errorf("%s: no error", tt.name)
		case tt.wantParam == "" && errors.As(err, &re):
			t.Errorf("%s: %v is a RequestError, want a plain error", tt.name, err)
		case tt.wantParam != "" && !errors.As(err, &re):
			t.Errorf("%s: %v (%T), want a *RequestError", tt.name, err, err)
		case tt.wantParam != "" && re.Param != tt.wantParam:
			t.Errorf("%s: param %q, want %q (%v)", tt.name, re.Param, tt.wantParam, err)
		}
	}
}

// The usage chunk is requested for every stream, whatever the client said.
func TestEncodeChatRequest_StreamAlwaysAsksForUsage(t *testing.T) {
	for _, include := range []bool{false, true} {
		body, _, err := EncodeChatRequest(protocol.Request{Model: "m", Stream: true, IncludeUsage: include,
			Messages: []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "hi"}}}}}, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			StreamOptions *streamOptions `json:"stream_options"`
		}
		if err := json.Unmarshal(body, &doc); err != nil || doc.StreamOptions == nil || !doc.StreamOptions.IncludeUsage {
			t.Errorf("IncludeUsage=%v: body %s lacks include_usage", include, body)
		}
	}
}
