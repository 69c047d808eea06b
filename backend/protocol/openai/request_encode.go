package openai

import (
	"fmt"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// EncodeOptions adapts an encoded request to what a backend accepts.
type EncodeOptions struct {
	// MaxTokensField is the field that carries Request.MaxTokens:
	// "max_tokens" (broadest compatibility: vLLM, Ollama, LM Studio) or
	// "max_completion_tokens" (required by api.openai.com reasoning models).
	// "" means "max_tokens".
	MaxTokensField string
	// SendReasoningEffort: the backend model reasons and takes
	// reasoning_effort. Non-reasoning models (gpt-4o, gpt-4.1, most local
	// models) refuse the field with a 400, so a request for thinking (which
	// Claude Code sends on every turn) is not passed on to them: the model
	// simply answers without visible reasoning.
	SendReasoningEffort bool
}

// EncodeChatRequest builds the body of a chat completion request for an
// OpenAI-compatible backend. Errors are *protocol.RequestError naming the
// field in the internal (Anthropic) terms, "messages.3.content.1.content",
// for what OpenAI's format cannot express; an EncodeOptions mistake is a
// plain error.
//
// The mapping:
//   - System becomes one leading system message, its blocks joined by a
//     blank line; a system message inside the conversation a system
//     message where it is.
//   - A user turn's tool_result blocks become tool messages, placed before
//     the rest of the turn (see encodeUser).
//   - An assistant turn's text becomes content, its thinking
//     reasoning_content (see encodeAssistant).
//   - Tools, tool_choice and parallel_tool_calls (the latter two only when
//     there are tools: OpenAI refuses them otherwise).
//   - MaxTokens as opts.MaxTokensField says. TopK is sent as top_k, an
//     extension vLLM, Ollama, LM Studio and Groq accept but api.openai.com
//     refuses; only Anthropic clients set it.
//   - Thinking becomes reasoning_effort: its Effort, or the level of its
//     BudgetTokens (protocol.BudgetEffort), "max" as "xhigh", OpenAI's
//     highest; an Effort without thinking likewise.
//   - Output becomes response_format: json_schema with its name ("output"
//     when the client gave none), description, schema and strict, or
//     json_object when there is no schema.
//   - Stream sets stream_options.include_usage=true whatever the client
//     asked, since the gateway needs the usage; the client's IncludeUsage
//     decides what it is shown.
//   - The OpenAI-only fields are sent as given.
//
// dropped names what the body leaves out: the request's own Dropped.
func EncodeChatRequest(r protocol.Request, opts EncodeOptions) (body []byte, dropped []string, err error) {
	if len(r.Untranslatable) > 0 {
		return nil, nil, &protocol.RequestError{Param: r.Untranslatable[0],
			Message: fmt.Sprintf("an OpenAI-compatible backend has no counterpart of %s: leave it out, or route this model to a backend of the client's own API", r.Untranslatable[0])}
	}
	out := chatRequestOut{
		Model: r.Model, Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK,
		MinP: r.MinP, RepetitionPenalty: r.RepetitionPenalty,
		Stop: r.StopSequences, User: r.User, Stream: r.Stream,
		N: r.N, Seed: r.Seed, PresencePenalty: r.PresencePenalty, FrequencyPenalty: r.FrequencyPenalty,
		LogitBias: r.LogitBias, Logprobs: r.Logprobs, TopLogprobs: r.TopLogprobs, ResponseFormat: responseFormat(r.Output),
	}
	if err := setMaxTokens(&out, r.MaxTokens, opts); err != nil {
		return nil, nil, err
	}
	msgs, err := encodeMessages(r)
	if err != nil {
		return nil, nil, err
	}
	out.Messages = msgs
	out.Tools = encodeTools(r.Tools)
	out.ToolChoice, out.ParallelToolCalls = encodeToolChoice(r.ToolChoice, len(r.Tools) > 0)
	if opts.SendReasoningEffort {
		out.ReasoningEffort = reasoningEffort(r.Thinking, r.Effort)
	}
	if r.Stream {
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if body, err = protocol.Marshal(out); err != nil {
		return nil, nil, fmt.Errorf("encode openai request: %w", err)
	}
	return body, r.Dropped, nil
}

// responseFormat is Output as a response_format.
func responseFormat(o *protocol.OutputFormat) any {
	if o == nil {
		return nil
	}
	if o.Schema == nil {
		return map[string]string{"type": "json_object"}
	}
	name := o.Name
	if name == "" {
		name = "output"
	}
	return responseFormatOut{Type: "json_schema", JSONSchema: jsonSchemaOut{Name: name, Description: o.Description, Schema: o.Schema, Strict: o.Strict}}
}

func setMaxTokens(out *chatRequestOut, n int, opts EncodeOptions) error {
	field := opts.MaxTokensField
	if field != "" && field != "max_tokens" && field != "max_completion_tokens" {
		return fmt.Errorf("openai: MaxTokensField %q is neither max_tokens nor max_completion_tokens", field)
	}
	switch {
	case n <= 0:
	case field == "max_completion_tokens":
		out.MaxCompletionTokens = &n
	default:
		out.MaxTokens = &n
	}
	return nil
}

func reasoningEffort(t *protocol.Thinking, effort string) string {
	switch {
	case t == nil:
	case t.Effort != "":
		effort = t.Effort
	case t.BudgetTokens > 0:
		effort = protocol.BudgetEffort(t.BudgetTokens)
	}
	if effort == "max" {
		return "xhigh"
	}
	return effort
}

func encodeTools(tools []protocol.Tool) []toolOut {
	out := make([]toolOut, 0, len(tools))
	for _, t := range tools {
		params := t.InputSchema
		if len(params) == 0 {
			params = defaultParameters
		}
		out = append(out, toolOut{Type: "function", Function: toolFunctionIO{Name: t.Name, Description: t.Description, Parameters: params}})
	}
	return out
}

func encodeToolChoice(tc *protocol.ToolChoice, hasTools bool) (choice any, parallel *bool) {
	if tc == nil || !hasTools {
		return nil, nil
	}
	switch tc.Mode {
	case protocol.ToolChoiceAuto, protocol.ToolChoiceNone, protocol.ToolChoiceRequired:
		choice = string(tc.Mode)
	case protocol.ToolChoiceTool:
		choice = namedToolChoice{Type: "function", Function: functionName{Name: tc.Name}}
	}
	if tc.DisableParallel {
		parallel = new(false)
	}
	return choice, parallel
}

func encodeMessages(r protocol.Request) ([]messageOut, error) {
	out := []messageOut{}
	if sys := joinText(r.System); sys != "" {
		out = append(out, messageOut{Role: "system", Content: sys})
	}
	for i, m := range r.Messages {
		var msgs []messageOut
		var err error
		switch m.Role {
		case protocol.RoleUser:
			msgs, err = encodeUser(i, m)
		case protocol.RoleAssistant:
			msgs, err = encodeAssistant(i, m)
		case protocol.RoleSystem:
			if sys := joinText(m.Content); sys != "" {
				msgs = []messageOut{{Role: "system", Content: sys}}
			}
		default:
			err = &protocol.RequestError{Param: fmt.Sprintf("messages.%d.role", i), Message: fmt.Sprintf("must be user or assistant, got %q", m.Role)}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// encodeUser converts a user turn: first a tool message per tool_result
// block, then a user message with the rest of the content, if any. The
// user content is a string when it is only text (blocks joined by a blank
// line), else an array of text and image_url parts, images as data: URLs
// or their own URL. OpenAI's tool messages hold only text, so images a tool
// returned (a screenshot, an image file read) travel in that user message,
// first, introduced by a line naming the tool call.
func encodeUser(i int, m protocol.Message) ([]messageOut, error) {
	var out []messageOut
	var parts []partOut
	onlyText := true
	for j, b := range m.Content {
		switch b.Type {
		case protocol.BlockToolResult:
			msg, images, err := toolMessage(i, j, b)
			if err != nil {
				return nil, err
			}
			out = append(out, msg)
			if len(images) > 0 {
				parts = append(parts, partOut{Type: "text", Text: fmt.Sprintf("The result of tool call %s includes these images:", b.ToolUseID)})
				parts = append(parts, images...)
				onlyText = false
			}
		case protocol.BlockText:
			if b.Text != "" {
				parts = append(parts, partOut{Type: "text", Text: b.Text})
			}
		case protocol.BlockImage:
			if b.Image == nil {
				return nil, blockError(i, j, "an image block without an image")
			}
			parts = append(parts, partOut{Type: "image_url", ImageURL: &imageURLOut{URL: imageURL(b.Image)}})
			onlyText = false
		default:
			return nil, blockError(i, j, fmt.Sprintf("a %s block cannot be in a user message", b.Type))
		}
	}
	if len(parts) == 0 && len(out) > 0 {
		return out, nil
	}
	var content any = parts
	if onlyText {
		content = joinParts(parts)
	}
	return append(out, messageOut{Role: "user", Content: content}), nil
}

// toolMessage converts a tool_result. OpenAI's tool messages hold only
// text: the result's text blocks joined by a blank line; its images are
// returned apart, for the user message that follows (a note in the tool
// message says where they went). OpenAI has no is_error either, so an error
// result's text is prefixed "Error: " for the model to see (unless it
// already starts with "error"; an empty one is just "Error").
func toolMessage(i, j int, b protocol.Block) (messageOut, []partOut, error) {
	texts := make([]string, 0, len(b.Content))
	var images []partOut
	for _, c := range b.Content {
		switch {
		case c.Type == protocol.BlockText:
			texts = append(texts, c.Text)
		case c.Type == protocol.BlockImage && c.Image != nil:
			images = append(images, partOut{Type: "image_url", ImageURL: &imageURLOut{URL: imageURL(c.Image)}})
		default:
			return messageOut{}, nil, &protocol.RequestError{Param: fmt.Sprintf("messages.%d.content.%d.content", i, j),
				Message: fmt.Sprintf("a tool result holding an %s block cannot be sent to an OpenAI-compatible backend", c.Type)}
		}
	}
	if len(images) > 0 {
		texts = append(texts, fmt.Sprintf("(%d image(s) follow in the next user message)", len(images)))
	}
	text := joinStrings(texts)
	switch {
	case !b.IsError || strings.HasPrefix(strings.ToLower(text), "error"):
	case text == "":
		text = "Error"
	default:
		text = "Error: " + text
	}
	return messageOut{Role: "tool", ToolCallID: b.ToolUseID, Content: text}, images, nil
}

// encodeAssistant converts an assistant turn: text blocks joined by a blank
// line become content (null when the turn is only tool calls), thinking
// becomes reasoning_content (the field DeepSeek, vLLM and others read back;
// its Anthropic signature is dropped), redacted_thinking is dropped (it is
// opaque, and only Anthropic can read it), tool_use blocks become
// tool_calls with their Input as compact JSON arguments.
func encodeAssistant(i int, m protocol.Message) ([]messageOut, error) {
	var texts, thinking []string
	msg := messageOut{Role: "assistant"}
	for j, b := range m.Content {
		switch b.Type {
		case protocol.BlockText:
			texts = append(texts, b.Text)
		case protocol.BlockThinking:
			thinking = append(thinking, b.Text)
		case protocol.BlockRedactedThinking:
		case protocol.BlockToolUse:
			msg.ToolCalls = append(msg.ToolCalls, toolCallOut{ID: b.ID, Type: "function",
				Function: functionOut{Name: b.Name, Arguments: argumentsText(b.Input)}})
		default:
			return nil, blockError(i, j, fmt.Sprintf("a %s block cannot be in an assistant message", b.Type))
		}
	}
	msg.ReasoningContent = joinStrings(thinking)
	if text := joinStrings(texts); text != "" || len(msg.ToolCalls) == 0 {
		msg.Content = text
	}
	return []messageOut{msg}, nil
}

func blockError(i, j int, msg string) error {
	return &protocol.RequestError{Param: fmt.Sprintf("messages.%d.content.%d", i, j), Message: msg}
}

func imageURL(img *protocol.Image) string {
	if img.URL != "" {
		return img.URL
	}
	return "data:" + img.MediaType + ";base64," + img.Data
}

// joinText joins the text of blocks by a blank line, skipping empty ones.
func joinText(blocks []protocol.Block) string {
	texts := make([]string, 0, len(blocks))
	for _, b := range blocks {
		texts = append(texts, b.Text)
	}
	return joinStrings(texts)
}

func joinParts(parts []partOut) string {
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		texts = append(texts, p.Text)
	}
	return joinStrings(texts)
}

// joinStrings joins the non-empty strings by a blank line: the separator
// modelbar puts between what were separate blocks, everywhere.
func joinStrings(texts []string) string {
	var sb strings.Builder
	for _, t := range texts {
		if t == "" {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteString("\n\n")
		}
		sb.WriteString(t)
	}
	return sb.String()
}
