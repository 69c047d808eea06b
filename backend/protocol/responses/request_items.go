package responses

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// customSchema is the argument schema of the function tool a custom tool
// becomes: one string, the free-form input.
var customSchema = json.RawMessage(`{"type":"object","properties":{"` + CustomInput + `":{"type":"string","description":"The tool's free-form input, as its description says."}},"required":["` + CustomInput + `"],"additionalProperties":false}`)

// defaultParameters is the schema of a function declared without one.
var defaultParameters = json.RawMessage(`{"type":"object","properties":{}}`)

type rawTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Format      *struct {
		Type       string `json:"type"`
		Syntax     string `json:"syntax"`
		Definition string `json:"definition"`
	} `json:"format"`
	Tools []json.RawMessage `json:"tools"`
}

// tools maps function tools as they are, custom tools to a function of one
// string (CustomInput), and the tools of a namespace to functions named
// namespace__tool. Hosted tools, which only the API's own servers run, are
// dropped and named.
func (d *decoder) tools(doc *rawRequest, req *protocol.Request) error {
	if protocol.IsNull(doc.Tools) {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(doc.Tools, &items) != nil {
		return errorf("tools", "must be an array")
	}
	for i, raw := range items {
		if err := d.tool(fmt.Sprintf("tools[%d]", i), "", raw, req); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) tool(p, namespace string, raw json.RawMessage, req *protocol.Request) error {
	var t rawTool
	if json.Unmarshal(raw, &t) != nil {
		return errorf(p, "must be a tool object")
	}
	switch t.Type {
	case "function", "custom":
		if t.Name == "" {
			return errorf(p+".name", "is required")
		}
		flat := t.Name
		if namespace != "" {
			flat = namespace + NamespaceSep + t.Name
		}
		tool := protocol.Tool{Name: flat, Description: t.Description, InputSchema: t.Parameters}
		if t.Type == "custom" {
			tool.InputSchema = customSchema
			if t.Format != nil && t.Format.Type == "grammar" && t.Format.Definition != "" {
				tool.Description += fmt.Sprintf("\n\nThe input must follow this %s grammar:\n%s", t.Format.Syntax, t.Format.Definition)
			}
		} else if protocol.IsNull(tool.InputSchema) {
			tool.InputSchema = defaultParameters
		}
		d.names.Tools[flat] = ToolName{Namespace: namespace, Name: t.Name, Custom: t.Type == "custom"}
		req.Tools = append(req.Tools, tool)
	case "namespace":
		if namespace != "" || t.Name == "" {
			return errorf(p, "a namespace needs a name and cannot be inside another")
		}
		for j, inner := range t.Tools {
			if err := d.tool(fmt.Sprintf("%s.tools[%d]", p, j), t.Name, inner, req); err != nil {
				return err
			}
		}
	case "":
		return errorf(p+".type", "is required")
	default:
		// Hosted tools (web_search, file_search, code_interpreter,
		// computer_use, image_generation, mcp, local_shell, ...) and
		// tool types newer than this code: the backend cannot run them.
		d.dropped = append(d.dropped, "tools."+t.Type)
	}
	return nil
}

// flatName is the backend name of a client's tool call.
func flatName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + NamespaceSep + name
}

func (d *decoder) toolChoice(doc *rawRequest, req *protocol.Request) error {
	raw := doc.ToolChoice
	if protocol.IsNull(raw) {
		return nil
	}
	var mode string
	if json.Unmarshal(raw, &mode) == nil {
		switch mode {
		case "auto", "none", "required":
			req.ToolChoice = &protocol.ToolChoice{Mode: protocol.ToolChoiceMode(mode)}
			return nil
		}
		return errorf("tool_choice", "must be auto, none, required or an object")
	}
	var o struct {
		Type      string `json:"type"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return errorf("tool_choice", "must be auto, none, required or an object")
	}
	switch o.Type {
	case "function", "custom":
		if o.Name == "" {
			return errorf("tool_choice.name", "is required")
		}
		req.ToolChoice = &protocol.ToolChoice{Mode: protocol.ToolChoiceTool, Name: flatName(o.Namespace, o.Name)}
	default:
		// allowed_tools and hosted tools: the model may call what it
		// has, which is auto.
		d.dropped = append(d.dropped, "tool_choice."+o.Type)
	}
	return nil
}

// rawItem is one input item, any type.
type rawItem struct {
	Type             string          `json:"type"`
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	CallID           string          `json:"call_id"`
	Name             string          `json:"name"`
	Namespace        string          `json:"namespace"`
	Arguments        *string         `json:"arguments"`
	Input            *string         `json:"input"`
	Output           json.RawMessage `json:"output"`
	Summary          []rawPart       `json:"summary"`
	EncryptedContent string          `json:"encrypted_content"`
}

type rawPart struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	Refusal  string          `json:"refusal"`
	ImageURL json.RawMessage `json:"image_url"`
	FileID   string          `json:"file_id"`
}

// input converts the input (a string, or a list of items) into messages.
// Consecutive items of one role make one message: an assistant turn is its
// reasoning, text and calls; tool outputs are the next user turn's
// tool_result blocks. System and developer messages before the first
// other message are the system prompt, later ones RoleSystem messages.
func (d *decoder) input(doc *rawRequest, req *protocol.Request) error {
	if protocol.IsNull(doc.Input) {
		return errorf("input", "is required")
	}
	var s string
	if json.Unmarshal(doc.Input, &s) == nil {
		req.Messages = []protocol.Message{{Role: protocol.RoleUser, Content: []protocol.Block{{Type: protocol.BlockText, Text: s}}}}
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(doc.Input, &items) != nil {
		return errorf("input", "must be a string or an array of items")
	}
	for i, raw := range items {
		p := fmt.Sprintf("input[%d]", i)
		var it rawItem
		if json.Unmarshal(raw, &it) != nil {
			return errorf(p, "must be an item object")
		}
		if err := d.item(p, it, req); err != nil {
			return err
		}
	}
	if len(req.Messages) == 0 {
		return errorf("input", "must hold at least one message")
	}
	return nil
}

func (d *decoder) item(p string, it rawItem, req *protocol.Request) error {
	switch it.Type {
	case "message", "":
		return d.message(p, it, req)
	case "function_call":
		args := "{}"
		if it.Arguments != nil && strings.TrimSpace(*it.Arguments) != "" {
			args = *it.Arguments
		}
		if !json.Valid([]byte(args)) {
			return errorf(p+".arguments", "must be a JSON object in a string")
		}
		add(req, protocol.RoleAssistant, protocol.Block{Type: protocol.BlockToolUse, ID: it.CallID, Name: flatName(it.Namespace, it.Name), Input: json.RawMessage(args)})
	case "custom_tool_call":
		input := ""
		if it.Input != nil {
			input = *it.Input
		}
		args, _ := protocol.Marshal(map[string]string{CustomInput: input})
		add(req, protocol.RoleAssistant, protocol.Block{Type: protocol.BlockToolUse, ID: it.CallID, Name: flatName(it.Namespace, it.Name), Input: args})
	case "function_call_output", "custom_tool_call_output":
		content, err := outputContent(p+".output", it.Output)
		if err != nil {
			return err
		}
		add(req, protocol.RoleUser, protocol.Block{Type: protocol.BlockToolResult, ToolUseID: it.CallID, Content: content})
	case "reasoning":
		add(req, protocol.RoleAssistant, reasoningBlock(it))
	default:
		// item_reference (needs stored items) and the calls and outputs
		// of hosted tools: nothing a translated backend can read.
		d.dropped = append(d.dropped, "input."+it.Type)
	}
	return nil
}

// add appends b to the last message if it has role, else to a new one.
func add(req *protocol.Request, role protocol.Role, b protocol.Block) {
	if n := len(req.Messages); n > 0 && req.Messages[n-1].Role == role {
		req.Messages[n-1].Content = append(req.Messages[n-1].Content, b)
		return
	}
	req.Messages = append(req.Messages, protocol.Message{Role: role, Content: []protocol.Block{b}})
}

func (d *decoder) message(p string, it rawItem, req *protocol.Request) error {
	blocks, err := content(p+".content", it.Content)
	if err != nil {
		return err
	}
	switch it.Role {
	case "user":
		for _, b := range blocks {
			add(req, protocol.RoleUser, b)
		}
	case "assistant":
		for _, b := range blocks {
			add(req, protocol.RoleAssistant, b)
		}
	case "system", "developer":
		for _, b := range blocks {
			if b.Type != protocol.BlockText {
				return errorf(p+".content", "a %s message holds text only", it.Role)
			}
		}
		if len(req.Messages) == 0 {
			req.System = append(req.System, blocks...)
		} else {
			req.Messages = append(req.Messages, protocol.Message{Role: protocol.RoleSystem, Content: blocks})
		}
	default:
		return errorf(p+".role", "must be user, assistant, system or developer")
	}
	return nil
}

// content converts a message's content: a string, or input_text,
// output_text, refusal and input_image parts.
func content(p string, raw json.RawMessage) ([]protocol.Block, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []protocol.Block{{Type: protocol.BlockText, Text: s}}, nil
	}
	var parts []rawPart
	if json.Unmarshal(raw, &parts) != nil {
		return nil, errorf(p, "must be a string or an array of content parts")
	}
	var out []protocol.Block
	for j, part := range parts {
		pp := fmt.Sprintf("%s[%d]", p, j)
		switch part.Type {
		case "input_text", "output_text", "text":
			out = append(out, protocol.Block{Type: protocol.BlockText, Text: part.Text})
		case "refusal":
			out = append(out, protocol.Block{Type: protocol.BlockText, Text: part.Refusal})
		case "input_image":
			img, err := image(pp, part)
			if err != nil {
				return nil, err
			}
			out = append(out, protocol.Block{Type: protocol.BlockImage, Image: img})
		default:
			return nil, &protocol.RequestError{Param: pp + ".type", Unsupported: true,
				Message: fmt.Sprintf("%q parts cannot be translated for this backend (input_text, output_text and input_image can)", part.Type)}
		}
	}
	return out, nil
}

func image(p string, part rawPart) (*protocol.Image, error) {
	var url string
	if json.Unmarshal(part.ImageURL, &url) != nil || url == "" {
		if part.FileID != "" {
			return nil, &protocol.RequestError{Param: p + ".file_id", Unsupported: true, Message: "uploaded files exist only at OpenAI: send the image as image_url"}
		}
		return nil, errorf(p+".image_url", "is required")
	}
	rest, ok := strings.CutPrefix(url, "data:")
	if !ok {
		return &protocol.Image{URL: url}, nil
	}
	mediaType, data, ok := strings.Cut(rest, ";base64,")
	if !ok || mediaType == "" {
		return nil, errorf(p+".image_url", "a data URL must be data:<media type>;base64,<data>")
	}
	return &protocol.Image{MediaType: mediaType, Data: data}, nil
}

// outputContent is a tool output: a string, or text and image parts.
func outputContent(p string, raw json.RawMessage) ([]protocol.Block, error) {
	if protocol.IsNull(raw) {
		return nil, nil
	}
	blocks, err := content(p, raw)
	if err != nil {
		return nil, err
	}
	return blocks, nil
}

// reasoningBlock is a reasoning item as a thinking block: its summary is
// the text. modelbar's own encrypted_content (see sealThinking) gives back
// the Anthropic thinking block it came from, signature and all; anything
// else in encrypted_content is OpenAI's, which no other backend can read.
func reasoningBlock(it rawItem) protocol.Block {
	if b, ok := openThinking(it.EncryptedContent); ok {
		return b
	}
	var texts []string
	for _, s := range it.Summary {
		texts = append(texts, s.Text)
	}
	return protocol.Block{Type: protocol.BlockThinking, Text: strings.Join(texts, "\n\n")}
}

// sealPrefix marks modelbar's own encrypted_content.
const sealPrefix = "modelbar.v1."

type sealed struct {
	Text      string `json:"t,omitempty"`
	Signature string `json:"s,omitempty"`
	Redacted  string `json:"r,omitempty"`
}

// sealThinking is modelbar's encrypted_content for a thinking block: not
// encrypted (the signature already makes it tamper-evident to the backend
// that made it), only opaque to the client, which gives it back unchanged.
// "" when the block has nothing a backend would need back.
func sealThinking(b protocol.Block) string {
	var s sealed
	switch {
	case b.Type == protocol.BlockRedactedThinking:
		s.Redacted = b.Signature
	case b.Signature != "":
		s.Text, s.Signature = b.Text, b.Signature
	default:
		return ""
	}
	data, _ := json.Marshal(s)
	return sealPrefix + base64.RawURLEncoding.EncodeToString(data)
}

func openThinking(enc string) (protocol.Block, bool) {
	rest, ok := strings.CutPrefix(enc, sealPrefix)
	if !ok {
		return protocol.Block{}, false
	}
	data, err := base64.RawURLEncoding.DecodeString(rest)
	var s sealed
	if err != nil || json.Unmarshal(data, &s) != nil {
		return protocol.Block{}, false
	}
	if s.Redacted != "" {
		return protocol.Block{Type: protocol.BlockRedactedThinking, Signature: s.Redacted}, true
	}
	return protocol.Block{Type: protocol.BlockThinking, Text: s.Text, Signature: s.Signature}, s.Signature != ""
}
