package protocol

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFoldSystem(t *testing.T) {
	text := func(s string) Block { return Block{Type: BlockText, Text: s} }
	msg := func(r Role, blocks ...Block) Message { return Message{Role: r, Content: blocks} }
	sys := func(s string) Block { return text("<system>\n" + s + "\n</system>") }
	result := Block{Type: BlockToolResult, ToolUseID: "t"}
	tests := []struct {
		name     string
		in, want []Message
	}{
		{"none", []Message{msg(RoleUser, text("a"))}, []Message{msg(RoleUser, text("a"))}},
		{"after a user turn joins it", []Message{msg(RoleUser, text("a")), msg(RoleSystem, text("s")), msg(RoleAssistant, text("b"))},
			[]Message{msg(RoleUser, text("a"), sys("s")), msg(RoleAssistant, text("b"))}},
		{"after an assistant turn joins the next user turn", []Message{msg(RoleUser, text("a")), msg(RoleAssistant, text("b")), msg(RoleSystem, text("s"), text("t")), msg(RoleUser, result, text("c"))},
			[]Message{msg(RoleUser, text("a")), msg(RoleAssistant, text("b")), msg(RoleUser, sys("s\n\nt"), result, text("c"))}},
		{"last becomes a user turn", []Message{msg(RoleUser, text("a")), msg(RoleAssistant, text("b")), msg(RoleSystem, text("s"))},
			[]Message{msg(RoleUser, text("a")), msg(RoleAssistant, text("b")), msg(RoleUser, sys("s"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]Message(nil), tt.in...)
			if diff := cmp.Diff(tt.want, FoldSystem(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(in, tt.in); diff != "" {
				t.Errorf("the input was modified:\n%s", diff)
			}
		})
	}
}
