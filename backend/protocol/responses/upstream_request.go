package responses

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// This file and the two upstream_*.go files beside it are the other
// direction: modelbar as a client of a provider whose models speak only
// the Responses API (the reverse bridge). EncodeRequest turns the internal
// request of a chat-completions or Anthropic client into a Responses
// request; DecodeResponse and StreamDecoder turn the answer back.

// EncodeOptions adapts an encoded request to the provider's model.
type EncodeOptions struct {
	// Reasoning: the model reasons and takes the reasoning parameter.
	// Without it a request for thinking is not passed on (a
	// non-reasoning model refuses the field).
	Reasoning bool
}

// reasoningSealPrefix marks a thinking block's Signature that holds a
// Responses provider's encrypted_content (see DecodeResponse): such a
// block goes back to the provider as a reasoning item; any other thinking
// block (an Anthropic signature, or none) means nothing to it.
const reasoningSealPrefix = "modelbar.rs1."

type upRequest struct {
	Model             string       `json:"model"`
	Instructions      string       `json:"instructions,omitempty"`
	Input             []any        `json:"input"`
	Tools             []upTool     `json:"tools,omitempty"`
	ToolChoice        any          `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool        `json:"parallel_tool_calls,omitempty"`
	MaxOutputTokens   int          `json:"max_output_tokens,omitempty"`
	Temperature       *float64     `json:"temperature,omitempty"`
	TopP              *float64     `json:"top_p,omitempty"`
	Reasoning         *upReasoning `json:"reasoning,omitempty"`
	Text              *upText      `json:"text,omitempty"`
	User              string       `json:"user,omitempty"`
	Include           []string     `json:"include,omitempty"`
	Store             bool         `json:"store"`
	Stream            bool         `json:"stream,omitempty"`
}

type upTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      bool            `json:"strict"`
}

type upReasoning struct {
	Effort  string `json:"effort,omitempty"`
	Summary string `json:"summary,omitempty"`
}

type upText struct {
	Format upFormat `json:"format"`
}

type upFormat struct {
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

type upMessage struct {
	Type    string   `json:"type"`
	Role    string   `json:"role"`
	Content []upPart `json:"content"`
}

type upPart struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
}

type upCall struct {
	Type      string `json:"type"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type upOutput struct {
	Type   string `json:"type"`
	CallID string `json:"call_id"`
	Output any    `json:"output"`
}

type upReasoningItem struct {
	Type             string `json:"type"`
	Summary          []part `json:"summary"`
	EncryptedContent string `json:"encrypted_content"`
}

// EncodeRequest builds the body of a Responses request for a provider
// whose models speak only that API. Errors are *protocol.RequestError
// naming the field, for what the API cannot express.
//
// The mapping:
//   - System becomes instructions, its blocks joined by a blank line; a
//     system message inside the conversation a developer message.
//   - User text and images become a user message of input_text and
//     input_image parts; tool_result blocks function_call_output items
//     (a string, or parts when the result holds an image).
//   - Assistant text becomes an assistant message of output_text parts,
//     tool_use a function_call item; thinking goes back as a reasoning
//     item only when it came from a Responses provider (its
//     encrypted_content, which the provider can read), else it is left
//     out as every API's history of other models' thinking is.
//   - Tools become function tools with strict false (the API's default is
//     true, which most clients' schemas do not satisfy); tool_choice and
//     parallel_tool_calls as given.
//   - Thinking (or an Effort without it) becomes reasoning.effort, "max"
//     as "xhigh", with summary "auto" when thinking was asked for, and
//     include reasoning.encrypted_content so the next turn can give the
//     reasoning back (store is false: modelbar sends the whole
//     conversation each turn and keeps nothing at the provider).
//   - For a reasoning model, temperature and top_p are left out (and
//     named): those models refuse them.
//   - Output becomes text.format: json_schema (named "output" when the
//     client gave no name) or json_object.
//   - n > 1, logit_bias, logprobs and top_logprobs are refused; stop
//     sequences, top_k, min_p, repetition_penalty, seed and the penalties
//     have no counterpart and are left out and named in dropped, with the
//     request's own Dropped.
func EncodeRequest(r protocol.Request, opts EncodeOptions) (body []byte, dropped []string, err error) {
	if err := refuseUpstream(r); err != nil {
		return nil, nil, err
	}
	out := upRequest{Model: r.Model, Instructions: joinText(r.System), MaxOutputTokens: r.MaxTokens,
		Temperature: r.Temperature, TopP: r.TopP, User: r.User, Stream: r.Stream, Text: upTextFormat(r.Output)}
	if out.Input, err = encodeInput(r.Messages); err != nil {
		return nil, nil, err
	}
	for _, t := range r.Tools {
		params := t.InputSchema
		if protocol.IsNull(params) {
			params = defaultParameters
		}
		out.Tools = append(out.Tools, upTool{Type: "function", Name: t.Name, Description: t.Description, Parameters: params})
	}
	if len(out.Tools) > 0 {
		out.ToolChoice, out.ParallelToolCalls = upToolChoice(r.ToolChoice)
	}
	var unsent []string
	if opts.Reasoning {
		out.Reasoning, out.Include = upReasoningOf(r)
		unsent = samplingOfReasoning(&out)
	}
	body, err = protocol.Marshal(out)
	if err != nil {
		return nil, nil, fmt.Errorf("encode responses request: %w", err)
	}
	dropped = append(append(unsentUpstream(r), unsent...), r.Dropped...)
	slices.Sort(dropped)
	return body, slices.Compact(dropped), nil
}

func refuseUpstream(r protocol.Request) error {
	no := func(field, what string) error {
		return &protocol.RequestError{Param: field, Message: fmt.Sprintf("the Responses API has no %s option (%s): leave it out to use this backend", field, what)}
	}
	switch {
	case len(r.Untranslatable) > 0:
		return &protocol.RequestError{Param: r.Untranslatable[0], Message: fmt.Sprintf("the Responses API has no counterpart of %s: leave it out to use this backend", r.Untranslatable[0])}
	case r.N != nil && *r.N > 1:
		return no("n", "it returns one answer per request")
	case len(r.LogitBias) > 0 && string(r.LogitBias) != "null" && string(r.LogitBias) != "{}":
		return no("logit_bias", "token probabilities cannot be biased")
	case r.Logprobs != nil && *r.Logprobs, r.TopLogprobs != nil && *r.TopLogprobs > 0:
		return no("logprobs", "modelbar does not translate token probabilities from it")
	}
	return nil
}

// samplingOfReasoning leaves out temperature and top_p, which reasoning
// models refuse (o-series) or take at their defaults only (gpt-5), and
// names them. Claude Code, for one, sends temperature on every request.
func samplingOfReasoning(out *upRequest) []string {
	var names []string
	if out.Temperature != nil {
		names = append(names, "temperature")
	}
	if out.TopP != nil {
		names = append(names, "top_p")
	}
	out.Temperature, out.TopP = nil, nil
	return names
}

// unsentUpstream names the sampling hints the Responses API lacks.
func unsentUpstream(r protocol.Request) []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"stop", len(r.StopSequences) > 0},
		{"top_k", r.TopK != nil},
		{"min_p", r.MinP != nil},
		{"repetition_penalty", r.RepetitionPenalty != nil},
		{"seed", r.Seed != nil},
		{"presence_penalty", r.PresencePenalty != nil && *r.PresencePenalty != 0},
		{"frequency_penalty", r.FrequencyPenalty != nil && *r.FrequencyPenalty != 0},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

func joinText(blocks []protocol.Block) string {
	var texts []string
	for _, b := range blocks {
		if b.Type == protocol.BlockText && b.Text != "" {
			texts = append(texts, b.Text)
		}
	}
	return strings.Join(texts, "\n\n")
}

func upTextFormat(o *protocol.OutputFormat) *upText {
	switch {
	case o == nil:
		return nil
	case o.Schema == nil:
		return &upText{Format: upFormat{Type: "json_object"}}
	}
	name := o.Name
	if name == "" {
		name = "output"
	}
	return &upText{Format: upFormat{Type: "json_schema", Name: name, Description: o.Description, Schema: o.Schema, Strict: o.Strict}}
}

func upToolChoice(tc *protocol.ToolChoice) (any, *bool) {
	if tc == nil {
		return nil, nil
	}
	var parallel *bool
	if tc.DisableParallel {
		parallel = new(bool)
	}
	switch tc.Mode {
	case protocol.ToolChoiceTool:
		return map[string]string{"type": "function", "name": tc.Name}, parallel
	case "":
		return nil, parallel
	}
	return string(tc.Mode), parallel
}

func upReasoningOf(r protocol.Request) (*upReasoning, []string) {
	effort := r.Effort
	if t := r.Thinking; t != nil {
		switch {
		case t.Effort != "":
			effort = t.Effort
		case t.BudgetTokens > 0:
			effort = protocol.BudgetEffort(t.BudgetTokens)
		default:
			effort = "medium"
		}
	}
	if effort == "" {
		return nil, nil
	}
	if effort == "max" {
		effort = "xhigh"
	}
	if r.Thinking == nil {
		return &upReasoning{Effort: effort}, nil
	}
	return &upReasoning{Effort: effort, Summary: "auto"}, []string{"reasoning.encrypted_content"}
}

// encodeInput turns the messages into input items, in order.
func encodeInput(msgs []protocol.Message) ([]any, error) {
	items := []any{}
	for i, m := range msgs {
		var msg *upMessage // the message item being filled, if any
		flush := func() {
			if msg != nil && len(msg.Content) > 0 {
				items = append(items, *msg)
			}
			msg = nil
		}
		role := string(m.Role)
		if m.Role == protocol.RoleSystem {
			role = "developer"
		}
		for j, b := range m.Content {
			p := fmt.Sprintf("messages.%d.content.%d", i, j)
			switch b.Type {
			case protocol.BlockText, protocol.BlockImage:
				if msg == nil {
					msg = &upMessage{Type: "message", Role: role}
				}
				pt, err := upContentPart(p, b, m.Role == protocol.RoleAssistant)
				if err != nil {
					return nil, err
				}
				msg.Content = append(msg.Content, pt)
			case protocol.BlockToolUse:
				flush()
				args := string(b.Input)
				if args == "" {
					args = "{}"
				}
				items = append(items, upCall{Type: "function_call", CallID: b.ID, Name: b.Name, Arguments: args})
			case protocol.BlockToolResult:
				flush()
				out, err := upToolOutput(p, b)
				if err != nil {
					return nil, err
				}
				items = append(items, upOutput{Type: "function_call_output", CallID: b.ToolUseID, Output: out})
			case protocol.BlockThinking:
				if enc, ok := strings.CutPrefix(b.Signature, reasoningSealPrefix); ok {
					flush()
					summary := []part{}
					if b.Text != "" {
						summary = append(summary, summaryPart(b.Text))
					}
					items = append(items, upReasoningItem{Type: "reasoning", Summary: summary, EncryptedContent: enc})
				}
			}
		}
		flush()
	}
	return items, nil
}

func upContentPart(p string, b protocol.Block, assistant bool) (upPart, error) {
	if b.Type == protocol.BlockText {
		if assistant {
			return upPart{Type: "output_text", Text: b.Text}, nil
		}
		return upPart{Type: "input_text", Text: b.Text}, nil
	}
	if assistant || b.Image == nil {
		return upPart{}, &protocol.RequestError{Param: p, Message: "the Responses API takes images in user messages only"}
	}
	url := b.Image.URL
	if url == "" {
		url = "data:" + b.Image.MediaType + ";base64," + b.Image.Data
	}
	return upPart{Type: "input_image", ImageURL: url}, nil
}

// upToolOutput is a tool result's output: its text, or input parts when
// it holds an image. An error result is marked in the text, as the API
// has no error flag.
func upToolOutput(p string, b protocol.Block) (any, error) {
	text, plain := "", true
	for _, c := range b.Content {
		if c.Type != protocol.BlockText {
			plain = false
		}
	}
	if plain {
		text = joinText(b.Content)
		if b.IsError {
			text = "Error: " + text
		}
		return text, nil
	}
	var parts []upPart
	for j, c := range b.Content {
		pt, err := upContentPart(fmt.Sprintf("%s.content.%d", p, j), c, false)
		if err != nil {
			return nil, err
		}
		parts = append(parts, pt)
	}
	return parts, nil
}
