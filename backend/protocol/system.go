package protocol

import "strings"

// FoldSystem returns msgs with every mid-conversation system message
// (RoleSystem) turned into user text, for a backend that takes system
// instructions only at the start: the text, between <system> and
// </system> tags so the model can tell it from the user's own words, joins
// the user turn before it or, when there is none, the one after it, so no
// turn is added and roles keep alternating. It stays where it was in the
// conversation, so a prefix cache of the earlier turns still applies.
// msgs is not modified.
func FoldSystem(msgs []Message) []Message {
	if !HasSystemMessage(msgs) {
		return msgs
	}
	out := make([]Message, 0, len(msgs))
	var pending []Block // system text waiting for the next user turn
	for _, m := range msgs {
		switch {
		case m.Role == RoleSystem && len(out) > 0 && out[len(out)-1].Role == RoleUser:
			last := &out[len(out)-1]
			last.Content = append(append([]Block(nil), last.Content...), systemText(m))
		case m.Role == RoleSystem:
			pending = append(pending, systemText(m))
		case m.Role == RoleUser && len(pending) > 0:
			m.Content = append(pending, m.Content...)
			pending = nil
			out = append(out, m)
		default:
			out = append(out, m)
		}
	}
	if len(pending) > 0 {
		out = append(out, Message{Role: RoleUser, Content: pending})
	}
	return out
}

// HasSystemMessage reports whether msgs holds a system message inside the
// conversation.
func HasSystemMessage(msgs []Message) bool {
	for _, m := range msgs {
		if m.Role == RoleSystem {
			return true
		}
	}
	return false
}

// systemText is a system message as one tagged text block.
func systemText(m Message) Block {
	var texts []string
	for _, b := range m.Content {
		if b.Type == BlockText && b.Text != "" {
			texts = append(texts, b.Text)
		}
	}
	return Block{Type: BlockText, Text: "<system>\n" + strings.Join(texts, "\n\n") + "\n</system>"}
}
