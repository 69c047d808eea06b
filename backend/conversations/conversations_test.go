package conversations_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/conversations"
)

func ptr[T any](v T) *T { return &v }

func TestApply_Accepts(t *testing.T) {
	c := conversations.Conversation{}
	in := conversations.Input{
		Title:    ptr("  Trip planning  "),
		Models:   &[]string{" gpt-4o ", "claude-x"},
		Messages: json.RawMessage(`[ {"role":"user","content":"hi"}, {"role":"assistant","content":null,"tool_calls":[{"id":"1"}],"ui":{"x":1}}, {"role":"tool","content":"42","tool_call_id":"1"} ]`),
	}
	if err := conversations.Apply(&c, in); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if c.Title != "Trip planning" || !cmp.Equal(c.Models, []string{"gpt-4o", "claude-x"}) || c.Messages != 3 {
		t.Errorf("got title %q, models %q, %d messages", c.Title, c.Models, c.Messages)
	}
	want := `[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"1"}],"ui":{"x":1}},{"role":"tool","content":"42","tool_call_id":"1"}]`
	if string(c.MessageList) != want {
		t.Errorf("messages = %s\nwant %s (compacted, unknown fields kept)", c.MessageList, want)
	}
	// A title-only change leaves the rest.
	if err := conversations.Apply(&c, conversations.Input{Title: ptr("Renamed")}); err != nil {
		t.Fatal(err)
	}
	if c.Title != "Renamed" || c.Messages != 3 || len(c.Models) != 2 {
		t.Errorf("after rename: %+v", c.Summary)
	}
}

func TestApply_EmptyDefaults(t *testing.T) {
	var c conversations.Conversation
	if err := conversations.Apply(&c, conversations.Input{}); err != nil {
		t.Fatal(err)
	}
	if string(c.MessageList) != "[]" || c.Models == nil {
		t.Errorf("defaults: messages %s, models %v", c.MessageList, c.Models)
	}
}

func TestApply_Refuses(t *testing.T) {
	many := "[" + strings.Repeat(`{"role":"user","content":"x"},`, conversations.MaxMessages) + `{"role":"user"}]`
	huge := fmt.Sprintf(`[{"role":"user","content":%q}]`, strings.Repeat("a", conversations.MaxMessageBytes))
	for _, tc := range []struct {
		name  string
		in    conversations.Input
		field string
	}{
		{"long title", conversations.Input{Title: ptr(strings.Repeat("é", conversations.MaxTitleRunes+1))}, "title"},
		{"title with a line break", conversations.Input{Title: ptr("a\nb")}, "title"},
		{"too many models", conversations.Input{Models: &[]string{"a", "b", "c", "d", "e"}}, "models"},
		{"empty model", conversations.Input{Models: &[]string{"a", " "}}, "models[1]"},
		{"messages not an array", conversations.Input{Messages: json.RawMessage(`{"role":"user"}`)}, "messages"},
		{"messages null", conversations.Input{Messages: json.RawMessage(`null`)}, "messages"},
		{"a message not an object", conversations.Input{Messages: json.RawMessage(`["hi"]`)}, "messages[0]"},
		{"unknown role", conversations.Input{Messages: json.RawMessage(`[{"role":"user"},{"role":"admin","content":"x"}]`)}, "messages[1].role"},
		{"no role", conversations.Input{Messages: json.RawMessage(`[{"content":"x"}]`)}, "messages[0].role"},
		{"content not a string", conversations.Input{Messages: json.RawMessage(`[{"role":"user","content":[{"type":"text"}]}]`)}, "messages[0].content"},
		{"too many messages", conversations.Input{Messages: json.RawMessage(many)}, "messages"},
		{"too many bytes", conversations.Input{Messages: json.RawMessage(huge)}, "messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conversations.Conversation{Summary: conversations.Summary{Title: "kept"}}
			err := conversations.Apply(&c, tc.in)
			var fe *conversations.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Apply = %v, want a FieldError", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tc.field, err)
			}
			if c.Title != "kept" {
				t.Errorf("a refused input changed the conversation: %+v", c.Summary)
			}
		})
	}
}
