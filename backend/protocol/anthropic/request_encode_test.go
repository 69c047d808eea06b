package anthropic

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/protocol"
)

func TestEncodeMessagesRequest_Golden(t *testing.T) {
	for name, path := range inputs(t, "encode_requests", ".json") {
		t.Run(name, func(t *testing.T) {
			var req protocol.Request
			if err := json.Unmarshal(readFile(t, path), &req); err != nil {
				t.Fatal(err)
			}
			body, _, err := EncodeMessagesRequest(req, EncodeOptions{DefaultMaxTokens: 4096})
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if _, err := DecodeMessagesRequest(body); err != nil {
				t.Errorf("the API's own validation refuses the encoded body: %v", err)
			}
			checkGolden(t, strings.TrimSuffix(path, ".json")+".golden", indentJSON(t, body))
		})
	}
}

// OpenAI-only fields whose loss would change the answer are refused,
// naming the field; sampling hints with no counterpart are dropped and
// named.
func TestEncodeMessagesRequest_OpenAIOnlyFields(t *testing.T) {
	ptr := func(f float64) *float64 { return &f }
	two, seed, yes, five := 2, int64(7), true, 5
	tests := []struct {
		param   string
		refused bool
		set     func(*protocol.Request)
	}{
		{"n", true, func(r *protocol.Request) { r.N = &two }},
		{"logit_bias", true, func(r *protocol.Request) { r.LogitBias = json.RawMessage(`{"50256": -100}`) }},
		{"logprobs", true, func(r *protocol.Request) { r.Logprobs = &yes }},
		{"top_logprobs", true, func(r *protocol.Request) { r.TopLogprobs = &five }},
		{"seed", false, func(r *protocol.Request) { r.Seed = &seed }},
		{"min_p", false, func(r *protocol.Request) { r.MinP = ptr(0.05) }},
		{"repetition_penalty", false, func(r *protocol.Request) { r.RepetitionPenalty = ptr(1.1) }},
		{"presence_penalty", false, func(r *protocol.Request) { r.PresencePenalty = ptr(0.5) }},
		{"frequency_penalty", false, func(r *protocol.Request) { r.FrequencyPenalty = ptr(-1) }},
	}
	for _, tt := range tests {
		t.Run(tt.param, func(t *testing.T) {
			r := protocol.Request{Model: "m", Messages: []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "hi"}}}}}
			tt.set(&r)
			body, dropped, err := EncodeMessagesRequest(r, EncodeOptions{DefaultMaxTokens: 4096})
			if !tt.refused {
				if err != nil || !slices.Equal(dropped, []string{tt.param}) || strings.Contains(string(body), tt.param) {
					t.Errorf("body %s, dropped %v, err %v: want %s dropped and named", body, dropped, err, tt.param)
				}
				return
			}
			var re *protocol.RequestError
			if !errors.As(err, &re) || re.Param != tt.param || !strings.Contains(re.Message, "Anthropic has no "+tt.param+" option") {
				t.Errorf("err = %#v, want a RequestError for %q saying Anthropic has no such option", err, tt.param)
			}
		})
	}
}

func TestEncodeMessagesRequest_Errors(t *testing.T) {
	text := func(s string) protocol.Block { return protocol.Block{Type: protocol.BlockText, Text: s} }
	tests := []struct {
		name, param string
		msgs        []protocol.Message
	}{
		{"no messages", "messages", nil},
		{"only empty messages", "messages", []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{text("")}}, {Role: protocol.RoleAssistant}}},
		{"bad role", "messages.0.role", []protocol.Message{{Role: "critic", Content: []protocol.Block{text("x")}}}},
		{"tool input an array", "messages.1.content.0.input", []protocol.Message{
			{Role: protocol.RoleUser, Content: []protocol.Block{text("x")}},
			{Role: protocol.RoleAssistant, Content: []protocol.Block{{Type: protocol.BlockToolUse, ID: "c", Name: "f", Input: json.RawMessage(`[1,2]`)}}},
		}},
		{"tool input broken JSON", "messages.0.content.0.input", []protocol.Message{
			{Role: protocol.RoleAssistant, Content: []protocol.Block{{Type: protocol.BlockToolUse, ID: "c", Name: "f", Input: json.RawMessage(`{"a":`)}}},
		}},
		{"bmp data URL", "messages.0.content.1.image", []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{
			text("x"), {Type: protocol.BlockImage, Image: &protocol.Image{URL: "data:image/bmp;base64,Qk0="}}}}}},
		{"percent-encoded data URL", "messages.0.content.0.image", []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{
			{Type: protocol.BlockImage, Image: &protocol.Image{URL: "data:image/svg+xml,%3Csvg%3E"}}}}}},
		{"unrecognisable data", "messages.0.content.0.image", []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{
			{Type: protocol.BlockImage, Image: &protocol.Image{Data: "AAAAAAAAAAAAAAAAAAAAAAAA"}}}}}},
		{"tiff in a tool result", "messages.0.content.0.content.1.image", []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{
			{Type: protocol.BlockToolResult, ToolUseID: "t", Content: []protocol.Block{text("x"), {Type: protocol.BlockImage, Image: &protocol.Image{MediaType: "image/tiff", Data: "SUkqAA=="}}}}}}}},
		{"unknown block", "messages.0.content.0.type", []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: "audio"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := EncodeMessagesRequest(protocol.Request{Model: "m", Messages: tt.msgs}, EncodeOptions{DefaultMaxTokens: 4096})
			var re *protocol.RequestError
			if !errors.As(err, &re) || re.Param != tt.param {
				t.Errorf("err = %v, want a RequestError for %q", err, tt.param)
			}
		})
	}
}

func TestEncodeMessagesRequest_MaxTokens(t *testing.T) {
	msgs := []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: "hi"}}}}
	tests := []struct {
		name       string
		maxTokens  int
		def        int
		thinking   *protocol.Thinking
		wantMax    int
		wantBudget int
	}{
		{"client's own", 300, 4096, nil, 300, 0},
		{"default", 0, 8192, nil, 8192, 0},
		{"no default either", 0, 0, nil, 4096, 0},
		{"budget fits", 20000, 4096, &protocol.Thinking{BudgetTokens: 10000}, 20000, 10000},
		{"budget equal to max_tokens", 10000, 4096, &protocol.Thinking{BudgetTokens: 10000}, 14096, 10000},
		{"effort above max_tokens", 1000, 4096, &protocol.Thinking{Effort: "high"}, 24576 + 4096, 24576},
		{"effort minimal", 0, 4096, &protocol.Thinking{Effort: "minimal"}, 4096, 1024},
		{"budget below the minimum", 0, 4096, &protocol.Thinking{BudgetTokens: 100}, 4096, 1024},
		{"effort none", 0, 4096, &protocol.Thinking{Effort: "none"}, 4096, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _, err := EncodeMessagesRequest(protocol.Request{Model: "m", MaxTokens: tt.maxTokens, Thinking: tt.thinking, Messages: msgs}, EncodeOptions{DefaultMaxTokens: tt.def})
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				MaxTokens int `json:"max_tokens"`
				Thinking  *struct {
					BudgetTokens int `json:"budget_tokens"`
				} `json:"thinking"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			budget := 0
			if got.Thinking != nil {
				budget = got.Thinking.BudgetTokens
			}
			if got.MaxTokens != tt.wantMax || budget != tt.wantBudget {
				t.Errorf("max_tokens %d, budget %d; want %d, %d\n%s", got.MaxTokens, budget, tt.wantMax, tt.wantBudget, body)
			}
		})
	}
}

func TestSniffImage(t *testing.T) {
	tests := map[string]string{
		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB":             "image/png",
		"/9j/4AAQSkZJRgABAQAAAQABAAD/2wBD":             "image/jpeg",
		"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAA":  "image/gif",
		"UklGRiQAAABXRUJQVlA4IBgAAAAwAQCdASoBAAEAAwA0": "image/webp",
		"UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAA":  "", // RIFF, but WAVE
		"AAAA":                 "",
		"!!!!!!!!!!!!!!!!!!!!": "",
	}
	for data, want := range tests {
		if got := sniffImage(data); got != want {
			t.Errorf("sniffImage(%.16s) = %q, want %q", data, got, want)
		}
	}
}
