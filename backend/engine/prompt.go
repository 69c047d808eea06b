package engine

import (
	"fmt"
	"strings"

	"github.com/modelbar/modelbar/backend/engine/chattemplate"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
	"github.com/modelbar/modelbar/backend/protocol"
)

// templateInput turns a request into what the chat template receives, as
// transformers' apply_chat_template would get it from an OpenAI-style
// conversation: one system message, tool results as "tool" messages, tool
// calls with their arguments as JSON objects, reasoning as
// reasoning_content. Local models are text-only: an image is refused.
func templateInput(r protocol.Request, syntax toolcall.Syntax) (chattemplate.Input, error) {
	in := chattemplate.Input{AddGenerationPrompt: true, Extra: templateVars(r)}
	if sys := joinText(r.System); sys != "" {
		in.Messages = append(in.Messages, chattemplate.Message{Role: "system", Content: sys})
	}
	// Chat templates know one system prompt, at the start: a system message
	// inside the conversation joins a user turn, where it was.
	msgs := protocol.FoldSystem(r.Messages)
	names := callNames(msgs)
	for i, m := range msgs {
		msgs, err := templateMessages(i, m, names)
		if err != nil {
			return in, err
		}
		in.Messages = append(in.Messages, msgs...)
	}
	if r.ToolChoice == nil || r.ToolChoice.Mode != protocol.ToolChoiceNone {
		for _, t := range r.Tools {
			in.Tools = append(in.Tools, chattemplate.Tool{Function: chattemplate.Function{
				Name: t.Name, Description: t.Description, Parameters: t.InputSchema,
			}})
		}
	}
	if syntax == toolcall.Mistral {
		mistralIDs(in.Messages)
	}
	familyInput(&in, syntax)
	return in, nil
}

// mistralIDs rewrites tool-call ids into the form Mistral's templates
// require, the same way in a call and in its result.
func mistralIDs(msgs []chattemplate.Message) {
	for i := range msgs {
		for j := range msgs[i].ToolCalls {
			msgs[i].ToolCalls[j].ID = mistralID(msgs[i].ToolCalls[j].ID)
		}
		if msgs[i].ToolCallID != "" {
			msgs[i].ToolCallID = mistralID(msgs[i].ToolCallID)
		}
	}
}

// callNames maps tool-call ids to the called tool: some templates name the
// tool a result answers.
func callNames(msgs []protocol.Message) map[string]string {
	names := map[string]string{}
	for _, m := range msgs {
		for _, b := range m.Content {
			if b.Type == protocol.BlockToolUse {
				names[b.ID] = b.Name
			}
		}
	}
	return names
}

func templateMessages(i int, m protocol.Message, names map[string]string) ([]chattemplate.Message, error) {
	if m.Role == protocol.RoleAssistant {
		return []chattemplate.Message{assistantMessage(m)}, nil
	}
	var out []chattemplate.Message
	var texts []string
	for j, b := range m.Content {
		switch b.Type {
		case protocol.BlockText:
			texts = append(texts, b.Text)
		case protocol.BlockToolResult:
			text := joinText(b.Content)
			if b.IsError { // chat templates have no error flag: the model reads it
				text = "Error: " + text
			}
			out = append(out, chattemplate.Message{Role: "tool", ToolCallID: b.ToolUseID, Name: names[b.ToolUseID], Content: text})
		default:
			return nil, &protocol.RequestError{Param: fmt.Sprintf("messages.%d.content.%d", i, j),
				Message: fmt.Sprintf("local models take text only, not %s blocks", b.Type)}
		}
	}
	if len(texts) > 0 || len(out) == 0 {
		out = append(out, chattemplate.Message{Role: "user", Content: strings.Join(texts, "\n\n")})
	}
	return out, nil
}

func assistantMessage(m protocol.Message) chattemplate.Message {
	msg := chattemplate.Message{Role: "assistant"}
	var texts, thoughts []string
	for _, b := range m.Content {
		switch b.Type {
		case protocol.BlockText:
			texts = append(texts, b.Text)
		case protocol.BlockThinking:
			thoughts = append(thoughts, b.Text)
		case protocol.BlockToolUse:
			msg.ToolCalls = append(msg.ToolCalls, chattemplate.ToolCall{ID: b.ID, Function: chattemplate.FunctionCall{Name: b.Name, Arguments: b.Input}})
		}
	}
	msg.Content, msg.ReasoningContent = strings.Join(texts, "\n\n"), strings.Join(thoughts, "\n\n")
	return msg
}

// joinText joins the text blocks of a list (tool results: images are not
// for a text-only model and are left out).
func joinText(blocks []protocol.Block) string {
	var texts []string
	for _, b := range blocks {
		if b.Type == protocol.BlockText {
			texts = append(texts, b.Text)
		}
	}
	return strings.Join(texts, "\n\n")
}
