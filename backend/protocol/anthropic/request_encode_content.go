package anthropic

import (
	"bytes"
	"encoding/base64"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// encodeMessages converts the conversation, leaving out what carries
// nothing and merging consecutive turns of one role (see
// EncodeMessagesRequest).
func encodeMessages(msgs []protocol.Message) ([]outMessage, error) {
	var out []outMessage
	for i, m := range msgs {
		path := at("messages", i)
		if m.Role != protocol.RoleUser && m.Role != protocol.RoleAssistant && m.Role != protocol.RoleSystem {
			return nil, reqErr(at(path, "role"), `must be "user", "assistant" or "system"`)
		}
		content, err := encodeContent(path, m.Content)
		if err != nil {
			return nil, err
		}
		switch n := len(out); {
		case len(content) == 0:
		case n > 0 && out[n-1].Role == string(m.Role):
			out[n-1].Content = append(out[n-1].Content, content...)
		default:
			out = append(out, outMessage{Role: string(m.Role), Content: content})
		}
	}
	if len(out) == 0 {
		return nil, reqErr("messages", "has nothing Anthropic can take: every message is empty")
	}
	for _, m := range out {
		if m.Role == string(protocol.RoleUser) {
			toolResultsFirst(m.Content)
		}
	}
	return out, nil
}

// toolResultsFirst moves the tool_result blocks of a user turn before its
// other blocks, keeping the order within each group.
func toolResultsFirst(content []any) {
	results := make([]any, 0, len(content))
	var rest []any
	for _, b := range content {
		if _, ok := b.(toolResultBlock); ok {
			results = append(results, b)
		} else {
			rest = append(rest, b)
		}
	}
	copy(content, append(results, rest...))
}

func encodeContent(path string, blocks []protocol.Block) ([]any, error) {
	out := make([]any, 0, len(blocks))
	for j, b := range blocks {
		wire, err := encodeBlock(at(at(path, "content"), j), b)
		if err != nil {
			return nil, err
		}
		if wire != nil {
			out = append(out, wire)
		}
	}
	return out, nil
}

// encodeBlock returns the wire form of b, or nil for a block that carries
// nothing Anthropic can take (see EncodeMessagesRequest).
func encodeBlock(path string, b protocol.Block) (any, error) {
	switch b.Type {
	case protocol.BlockText:
		if b.Text != "" {
			return textBlock{"text", b.Text}, nil
		}
		return nil, nil
	case protocol.BlockThinking:
		if b.Signature != "" {
			return thinkingBlock{"thinking", b.Text, b.Signature}, nil
		}
		return nil, nil
	case protocol.BlockRedactedThinking:
		return redactedThinkingBlock{"redacted_thinking", b.Signature}, nil
	case protocol.BlockImage:
		return encodeImage(path, b.Image)
	case protocol.BlockToolUse:
		input, err := toolInput(b.Input)
		if err != nil {
			return nil, reqErr(at(path, "input"), "%v: Anthropic takes only objects", err)
		}
		return toolUseBlock{"tool_use", b.ID, b.Name, input}, nil
	case protocol.BlockToolResult:
		return encodeToolResult(path, b)
	}
	return nil, reqErr(at(path, "type"), "unknown content block type %q", b.Type)
}

func encodeToolResult(path string, b protocol.Block) (any, error) {
	out := toolResultBlock{Type: "tool_result", ToolUseID: b.ToolUseID, IsError: b.IsError}
	var content []any
	for k, c := range b.Content {
		switch {
		case c.Type == protocol.BlockText && c.Text != "":
			content = append(content, textBlock{"text", c.Text})
		case c.Type == protocol.BlockImage:
			img, err := encodeImage(at(at(path, "content"), k), c.Image)
			if err != nil {
				return nil, err
			}
			if img != nil {
				content = append(content, img)
			}
		}
	}
	switch {
	case len(content) == 1:
		if t, ok := content[0].(textBlock); ok {
			out.Content = t.Text
		} else {
			out.Content = content
		}
	case len(content) > 1:
		out.Content = content
	}
	return out, nil
}

// encodeImage returns the image block for img, or nil (an untyped nil, so
// that callers can leave it out) when there is no image. Inline data needs
// a media type the API accepts; "image/jpg" is taken for "image/jpeg".
func encodeImage(path string, img *protocol.Image) (any, error) {
	switch {
	case img == nil || (img.Data == "" && img.URL == ""):
		return nil, nil
	case img.Data != "":
		return base64Image(path, img.MediaType, img.Data)
	case strings.HasPrefix(img.URL, "data:"):
		mt, data, ok := parseDataURL(img.URL)
		if !ok {
			return nil, reqErr(at(path, "image"), "only base64 data: URLs can be sent to Anthropic")
		}
		return base64Image(path, mt, data)
	}
	return imageBlock{"image", imageSource{Type: "url", URL: img.URL}}, nil
}

func base64Image(path, mediaType, data string) (any, error) {
	if mediaType == "" {
		mediaType = sniffImage(data)
	}
	if mediaType == "image/jpg" {
		mediaType = "image/jpeg"
	}
	if !imageMediaTypes[mediaType] {
		return nil, reqErr(at(path, "image"), "media type %q is not one Anthropic accepts (image/jpeg, image/png, image/gif, image/webp)", mediaType)
	}
	return imageBlock{"image", imageSource{Type: "base64", MediaType: mediaType, Data: data}}, nil
}

// parseDataURL splits data:<media type>;base64,<data>.
func parseDataURL(u string) (mediaType, data string, ok bool) {
	head, data, ok := strings.Cut(strings.TrimPrefix(u, "data:"), ",")
	mediaType, ok2 := strings.CutSuffix(head, ";base64")
	if !ok || !ok2 || data == "" {
		return "", "", false
	}
	return mediaType, data, true
}

// sniffImage recognises the four image formats the API takes by their
// magic numbers; "" when it is none of them.
func sniffImage(data string) string {
	if len(data) < 16 {
		return ""
	}
	head, err := base64.StdEncoding.DecodeString(data[:16])
	switch {
	case err != nil:
		return ""
	case bytes.HasPrefix(head, []byte("\x89PNG")):
		return "image/png"
	case bytes.HasPrefix(head, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	case bytes.HasPrefix(head, []byte("GIF8")):
		return "image/gif"
	case bytes.HasPrefix(head, []byte("RIFF")) && string(head[8:12]) == "WEBP":
		return "image/webp"
	}
	return ""
}
