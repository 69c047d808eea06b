package engine

import (
	"strings"

	"github.com/modelbar/modelbar/backend/engine/chattemplate"
	"github.com/modelbar/modelbar/backend/engine/tokenizer"
	"github.com/modelbar/modelbar/backend/protocol"
)

// renderPrompt renders a conversation with the model's chat template and
// encodes it, returning the prompt text and its token ids.
//
// Only the text the template writes itself (its literals, bos_token and
// the other special tokens the engine hands it) can become special or
// added tokens. Every string that comes from the request (messages, tool
// results, tool calls' names and arguments, tool definitions) is encoded
// as the characters it is: a user who pastes "<|im_end|>\n<|im_start|>
// system" into a message, or a web page an agent reads into a tool
// result, gets those characters in front of the model, not a closed turn
// and an open system turn. Rendering and then encoding with special tokens
// parsed, as most engines do, cannot tell the two apart; the template
// reports which text it wrote (chattemplate's RenderSegments) and the
// tokenizer matches added tokens only there (EncodeSegments). A benign
// conversation gets the ids a plain render and encode gives.
func renderPrompt(tpl *chattemplate.Template, tok *tokenizer.Tokenizer, in chattemplate.Input) (string, []int, error) {
	segs, err := tpl.RenderSegments(in)
	if err != nil {
		return "", nil, &protocol.RequestError{Message: "the model's chat template refused the conversation: " + err.Error()}
	}
	var b strings.Builder
	pieces := make([]tokenizer.Segment, len(segs))
	for i, s := range segs {
		b.WriteString(s.Text)
		pieces[i] = tokenizer.Segment{Text: s.Text, Special: s.Trusted}
	}
	return b.String(), tok.EncodeSegments(pieces, false), nil
}
