package anthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

func (d requestDecoder) messages(r *protocol.Request) error {
	raw, ok := d.top.get("messages")
	if !ok {
		return reqErr("messages", "is required")
	}
	items, err := asArray("messages", raw)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return reqErr("messages", "must contain at least one message")
	}
	for i, item := range items {
		// Only the final assistant message may be empty (an empty prefill),
		// and only after another message; it is dropped.
		mayBeEmpty := i > 0 && i == len(items)-1
		m, err := decodeMessage(at("messages", i), item, mayBeEmpty, d.drops)
		switch {
		case err != nil:
			return err
		case m.Role == protocol.RoleSystem && len(r.Messages) == 0:
			r.System = append(r.System, m.Content...) // before the first turn: part of the system prompt
		case len(m.Content) > 0:
			r.Messages = append(r.Messages, m)
		}
	}
	return nil
}

func decodeMessage(path string, raw json.RawMessage, mayBeEmpty bool, dr *drops) (protocol.Message, error) {
	var m protocol.Message
	o, err := asObject(path, raw)
	if err != nil {
		return m, err
	}
	role, err := requiredString(o, path, "role", false)
	if err != nil {
		return m, err
	}
	m.Role = protocol.Role(role)
	cpath := at(path, "content")
	content, ok := o.get("content")
	if !ok {
		return m, reqErr(cpath, "is required")
	}
	switch m.Role {
	case protocol.RoleUser, protocol.RoleAssistant:
		m.Content, err = decodeContent(cpath, content, m.Role, dr)
	case protocol.RoleSystem: // a mid-conversation system message: text only
		m.Content, err = stringOrBlocks(cpath, content, dr, decodeSystemBlock)
	default:
		err = reqErr(at(path, "role"), `must be "user", "assistant" or "system"`)
	}
	if err != nil {
		return m, err
	}
	if len(m.Content) == 0 && !(mayBeEmpty && m.Role == protocol.RoleAssistant) {
		return m, reqErr(cpath, "must not be empty (only the final assistant message may be)")
	}
	return m, nil
}

// decodeContent decodes message content: a string or an array of blocks.
func decodeContent(path string, raw json.RawMessage, role protocol.Role, dr *drops) ([]protocol.Block, error) {
	return stringOrBlocks(path, raw, dr, func(p string, item json.RawMessage) (protocol.Block, error) {
		return decodeBlock(p, item, role, dr)
	})
}

// stringOrBlocks decodes content that is a string (one text block; none
// when empty) or an array of blocks, each read by block. A block of a type
// newer than this code (errUnknownBlock) is left out and named in dr.
func stringOrBlocks(path string, raw json.RawMessage, dr *drops, block func(string, json.RawMessage) (protocol.Block, error)) ([]protocol.Block, error) {
	if startsWith(raw, '"') {
		s, err := asString(path, raw)
		if err != nil || s == "" {
			return nil, err
		}
		return []protocol.Block{{Type: protocol.BlockText, Text: s}}, nil
	}
	items, err := asArray(path, raw)
	if err != nil {
		return nil, reqErr(path, "must be a string or an array of content blocks")
	}
	blocks := make([]protocol.Block, 0, len(items))
	for i, item := range items {
		b, err := block(at(path, i), item)
		var unknown *errUnknownBlock
		switch {
		case errors.As(err, &unknown):
			dr.add("block:" + unknown.typ)
			continue
		case err != nil:
			return nil, err
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// errUnknownBlock is a content block of a type this code does not know:
// newer than it, or another vendor's extension. Translation leaves it out
// and says so; a relay never decodes it.
type errUnknownBlock struct{ typ string }

func (e *errUnknownBlock) Error() string { return fmt.Sprintf("unknown content block type %q", e.typ) }

// blockRoles says which role's messages may hold each block type.
var blockRoles = map[string]protocol.Role{
	"tool_use":          protocol.RoleAssistant,
	"thinking":          protocol.RoleAssistant,
	"redacted_thinking": protocol.RoleAssistant,
	"tool_result":       protocol.RoleUser,
}

func decodeBlock(path string, raw json.RawMessage, role protocol.Role, dr *drops) (protocol.Block, error) {
	o, err := asObject(path, raw)
	if err != nil {
		return protocol.Block{}, err
	}
	typ, err := requiredString(o, path, "type", false)
	if err != nil {
		return protocol.Block{}, err
	}
	if want, ok := blockRoles[typ]; ok && want != role {
		return protocol.Block{}, reqErr(at(path, "type"), "%s blocks may only appear in %s messages", typ, want)
	}
	switch typ {
	case "text":
		return decodeText(o, path)
	case "image":
		return decodeImage(o, path)
	case "tool_use":
		return decodeToolUse(o, path)
	case "tool_result":
		return decodeToolResult(o, path, dr)
	case "thinking":
		return decodeThinking(o, path)
	case "redacted_thinking":
		data, err := requiredString(o, path, "data", true)
		return protocol.Block{Type: protocol.BlockRedactedThinking, Signature: data}, err
	}
	return protocol.Block{}, unsupportedBlock(at(path, "type"), typ)
}

// unsupportedBlock explains a block type the internal model cannot carry.
func unsupportedBlock(param, typ string) error {
	switch {
	case typ == "document" || typ == "search_result" || typ == "container_upload":
		return unsupported(param, "%s blocks cannot be translated by modelbar yet: route this model to an Anthropic provider", typ)
	case strings.HasSuffix(typ, "_tool_use") || strings.HasSuffix(typ, "_tool_result"):
		return unsupported(param, "%s blocks belong to Anthropic's server tools, which only an Anthropic provider can run", typ)
	}
	return &errUnknownBlock{typ: typ}
}

func decodeText(o object, path string) (protocol.Block, error) {
	text, err := requiredString(o, path, "text", false)
	if err == nil && text == "" {
		err = reqErr(at(path, "text"), "text content blocks must be non-empty")
	}
	return protocol.Block{Type: protocol.BlockText, Text: text}, err
}

// imageMediaTypes are the media types the API accepts for base64 images.
var imageMediaTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

func decodeImage(o object, path string) (protocol.Block, error) {
	spath := at(path, "source")
	raw, ok := o.get("source")
	if !ok {
		return protocol.Block{}, reqErr(spath, "is required")
	}
	src, err := asObject(spath, raw)
	if err != nil {
		return protocol.Block{}, err
	}
	typ, err := requiredString(src, spath, "type", false)
	if err != nil {
		return protocol.Block{}, err
	}
	img := &protocol.Image{}
	switch typ {
	case "base64":
		err = decodeBase64Source(src, spath, img)
	case "url":
		img.URL, err = requiredString(src, spath, "url", true)
	case "file":
		err = unsupported(at(spath, "type"), "file sources (the Files API) cannot be translated by modelbar: route this model to an Anthropic provider")
	default:
		err = reqErr(at(spath, "type"), `must be "base64" or "url"`)
	}
	return protocol.Block{Type: protocol.BlockImage, Image: img}, err
}

func decodeBase64Source(src object, path string, img *protocol.Image) (err error) {
	if img.MediaType, err = requiredString(src, path, "media_type", false); err != nil {
		return err
	}
	if !imageMediaTypes[img.MediaType] {
		return reqErr(at(path, "media_type"), "must be one of image/jpeg, image/png, image/gif, image/webp")
	}
	img.Data, err = requiredString(src, path, "data", true)
	return err
}

func decodeToolUse(o object, path string) (protocol.Block, error) {
	b := protocol.Block{Type: protocol.BlockToolUse}
	var err error
	if b.ID, err = requiredString(o, path, "id", true); err != nil {
		return b, err
	}
	if b.Name, err = requiredString(o, path, "name", true); err != nil {
		return b, err
	}
	raw, ok := o.get("input")
	if !ok {
		return b, reqErr(at(path, "input"), "is required")
	}
	b.Input, err = compactObject(at(path, "input"), raw)
	return b, err
}

func decodeToolResult(o object, path string, dr *drops) (protocol.Block, error) {
	b := protocol.Block{Type: protocol.BlockToolResult}
	var err error
	if b.ToolUseID, err = requiredString(o, path, "tool_use_id", true); err != nil {
		return b, err
	}
	if raw, ok := o.get("is_error"); ok {
		if b.IsError, err = asBool(at(path, "is_error"), raw); err != nil {
			return b, err
		}
	}
	raw, ok := o.get("content")
	if !ok {
		return b, nil
	}
	b.Content, err = decodeToolResultContent(at(path, "content"), raw, dr)
	return b, err
}

// decodeToolResultContent decodes a tool result's content: a string or an
// array of text and image blocks. Unlike a message's, its text blocks may be
// empty (a command that printed nothing).
func decodeToolResultContent(path string, raw json.RawMessage, dr *drops) ([]protocol.Block, error) {
	return stringOrBlocks(path, raw, dr, decodeToolResultBlock)
}

func decodeToolResultBlock(path string, raw json.RawMessage) (protocol.Block, error) {
	o, err := asObject(path, raw)
	if err != nil {
		return protocol.Block{}, err
	}
	typ, err := requiredString(o, path, "type", false)
	if err != nil {
		return protocol.Block{}, err
	}
	switch typ {
	case "text":
		text, err := requiredString(o, path, "text", false)
		return protocol.Block{Type: protocol.BlockText, Text: text}, err
	case "image":
		return decodeImage(o, path)
	}
	return protocol.Block{}, unsupportedBlock(at(path, "type"), typ)
}

func decodeThinking(o object, path string) (protocol.Block, error) {
	b := protocol.Block{Type: protocol.BlockThinking}
	var err error
	if b.Text, err = requiredString(o, path, "thinking", false); err != nil {
		return b, err
	}
	b.Signature, err = requiredString(o, path, "signature", false)
	return b, err
}

func (d requestDecoder) tools(r *protocol.Request) error {
	raw, ok := d.top.get("tools")
	if !ok {
		return nil
	}
	items, err := asArray("tools", raw)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, item := range items {
		t, err := decodeTool(at("tools", i), item)
		var hosted *errHostedTool
		switch {
		case errors.As(err, &hosted):
			d.drops.add("tool:" + hosted.typ)
			continue
		case err != nil:
			return err
		}
		if seen[t.Name] {
			return reqErr(at(at("tools", i), "name"), "tool names must be unique: %q is given twice", t.Name)
		}
		seen[t.Name] = true
		r.Tools = append(r.Tools, t)
	}
	return nil
}

func decodeTool(path string, raw json.RawMessage) (protocol.Tool, error) {
	var t protocol.Tool
	o, err := asObject(path, raw)
	if err != nil {
		return t, err
	}
	typ, err := optionalString(o, path, "type")
	if err != nil {
		return t, err
	}
	if typ != "" && typ != "custom" {
		return t, &errHostedTool{typ: typ}
	}
	if t.Name, err = requiredString(o, path, "name", true); err != nil {
		return t, err
	}
	if !toolName.MatchString(t.Name) {
		return t, reqErr(at(path, "name"), "must match ^[a-zA-Z0-9_-]{1,128}$")
	}
	if t.Description, err = optionalString(o, path, "description"); err != nil {
		return t, err
	}
	t.InputSchema, err = decodeInputSchema(o, at(path, "input_schema"))
	return t, err
}

func decodeInputSchema(o object, path string) (json.RawMessage, error) {
	raw, ok := o.get("input_schema")
	if !ok {
		return nil, reqErr(path, "is required")
	}
	schema, err := asObject(path, raw)
	if err != nil {
		return nil, err
	}
	if typ, _ := optionalString(schema, path, "type"); typ != "object" {
		return nil, reqErr(at(path, "type"), `must be "object"`)
	}
	return compactObject(path, raw)
}

// toolChoiceModes maps the API's tool_choice types to internal modes.
var toolChoiceModes = map[string]protocol.ToolChoiceMode{
	"auto": protocol.ToolChoiceAuto, "any": protocol.ToolChoiceRequired,
	"none": protocol.ToolChoiceNone, "tool": protocol.ToolChoiceTool,
}

func (d requestDecoder) toolChoice(r *protocol.Request) error {
	o, typ, ok, err := d.typedObject("tool_choice")
	if !ok || err != nil {
		return err
	}
	tc := &protocol.ToolChoice{Mode: toolChoiceModes[typ]}
	switch {
	case tc.Mode == "":
		return reqErr("tool_choice.type", `must be "auto", "any", "tool" or "none"`)
	case tc.Mode == protocol.ToolChoiceTool:
		if tc.Name, err = requiredString(o, "tool_choice", "name", true); err != nil {
			return err
		}
	}
	if raw, ok := o.get("disable_parallel_tool_use"); ok && tc.Mode != protocol.ToolChoiceNone {
		if tc.DisableParallel, err = asBool("tool_choice.disable_parallel_tool_use", raw); err != nil {
			return err
		}
	}
	r.ToolChoice = tc
	return nil
}

// errHostedTool is one of Anthropic's server tools (web_search_20250305,
// code_execution_*, tool_search_*, ...): it runs on Anthropic's side, so
// another backend cannot offer it, and translation leaves it out.
type errHostedTool struct{ typ string }

func (e *errHostedTool) Error() string {
	return fmt.Sprintf("server tool %q runs only on an Anthropic provider", e.typ)
}
