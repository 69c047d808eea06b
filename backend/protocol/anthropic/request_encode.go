package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/modelbar/modelbar/backend/protocol"
)

// outRequest is the body of a Messages request, in the API's field order.
type outRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int             `json:"max_tokens"`
	System        any             `json:"system,omitempty"`
	Messages      []outMessage    `json:"messages"`
	Tools         []outTool       `json:"tools,omitempty"`
	ToolChoice    *outToolChoice  `json:"tool_choice,omitempty"`
	Thinking      *outThinkingCfg `json:"thinking,omitempty"`
	OutputConfig  *outOutputCfg   `json:"output_config,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	TopK          *int            `json:"top_k,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Metadata      *outMetadata    `json:"metadata,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
}

type outMessage struct {
	Role    string `json:"role"`
	Content []any  `json:"content"`
}

type outTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type outToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type outThinkingCfg struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens,omitempty"`
}

type outOutputCfg struct {
	Effort string     `json:"effort,omitempty"`
	Format *outFormat `json:"format,omitempty"`
}

type outFormat struct {
	Type   string          `json:"type"`
	Schema json.RawMessage `json:"schema"`
}

type outMetadata struct {
	UserID string `json:"user_id"`
}

// fallbackMaxTokens stands in for a non-positive DefaultMaxTokens: the
// largest output every Claude model accepts.
const fallbackMaxTokens = 4096

// SystemMessagesBeta is the anthropic-beta flag under which the API takes
// system messages inside the conversation.
const SystemMessagesBeta = "mid-conversation-system-2026-04-07"

// EncodeOptions adapts an encoded request to what a backend accepts.
type EncodeOptions struct {
	// DefaultMaxTokens is max_tokens when the client gave none (an OpenAI
	// client may omit it; Anthropic requires it); non-positive means 4096.
	DefaultMaxTokens int
	// SystemMessages: the backend takes system messages inside the
	// conversation (SystemMessagesBeta, which the caller sends). Otherwise
	// they are folded into user turns (protocol.FoldSystem).
	SystemMessages bool
	// AdaptiveThinking: the model takes {"type":"adaptive"} thinking and
	// output_config.effort (Claude Opus 4.6, Sonnet 4.6 and later).
	// Otherwise thinking is asked for with a token budget, and an effort
	// without thinking is left out.
	AdaptiveThinking bool
}

// EncodeMessagesRequest builds the body of a Messages request for an
// Anthropic backend. dropped names what the request asked for that the
// body leaves out: the request's own Dropped, and what Anthropic has no
// counterpart of but does not change the answer (seed, presence_penalty,
// frequency_penalty, min_p, repetition_penalty; an effort the model cannot
// take).
//
// Refused, because Anthropic has no counterpart and the answer would
// differ: Untranslatable fields, n > 1, a non-empty logit_bias, logprobs
// true, top_logprobs > 0. The error is a *protocol.RequestError whose
// Param is the OpenAI field name.
//
// Other decisions:
//   - system is a string when it is one text block, else an array of text
//     blocks; empty system blocks are left out. System messages inside the
//     conversation are sent as such (role "system") when
//     opts.SystemMessages, else folded into the user turns around them.
//   - Content that Anthropic refuses and that carries nothing is left out:
//     empty text blocks, and thinking blocks without a signature (reasoning
//     from another backend, which Anthropic would reject as unsigned). A
//     message left empty is not sent; consecutive messages of one role are
//     merged into one turn, and in a user turn the tool_result blocks are
//     moved before the other content, as the API requires. A request left
//     with no message at all is refused (Param "messages").
//   - Images: base64 data with its media type (sniffed from the data when
//     missing; image/jpg read as image/jpeg), a base64 data: URL as base64
//     data, any other URL as a url source. An inline image that is not
//     JPEG, PNG, GIF or WebP, and a data: URL that is not base64, are
//     refused (Param "messages.I.content.J.image").
//   - Params of these errors use internal indices: they can differ from
//     the client's own (an OpenAI "tool" message is a block of a user turn).
//   - A tool_result whose content is one text block is sent with string
//     content; no content, no content field.
//   - Tool input must be a JSON object (Param
//     "messages.I.content.J.input", internal indices); none is {}.
//   - Tools without a schema get {"type":"object","properties":{}}; a schema
//     without "type" gets "type":"object".
//   - tool_choice is sent only with tools (the API refuses it alone);
//     auto/required/none/tool become auto/any/none/tool, DisableParallel
//     disable_parallel_tool_use.
//   - temperature is clamped to [0, 1]: OpenAI allows up to 2, Anthropic 1.
//   - Output becomes output_config.format {"type":"json_schema","schema"};
//     a request for any JSON object (json_object) gets the schema
//     {"type":"object"}.
//   - Thinking: with opts.AdaptiveThinking, {"type":"adaptive"} and
//     output_config.effort at the nearest level Anthropic has (minimal
//     becomes low), unless only a budget was given. Otherwise budget_tokens
//     is BudgetTokens, else protocol.EffortBudget(Effort), at least 1024;
//     max_tokens must exceed the budget, so when it does not it becomes
//     budget + DefaultMaxTokens. Thinking is left off where Anthropic
//     refuses it, rather than failing the request: when tool_choice forces
//     a tool call (any or tool), and when the last assistant turn calls
//     tools without a signed thinking block before them (a conversation
//     begun on another backend; the API's own advice is to disable
//     thinking). With thinking on, temperature and top_k are not sent and
//     a top_p below 0.95 is not sent, as Anthropic refuses them together
//     with thinking.
func EncodeMessagesRequest(r protocol.Request, opts EncodeOptions) (body []byte, dropped []string, err error) {
	if err := refuseOpenAIOnly(r); err != nil {
		return nil, nil, err
	}
	if opts.DefaultMaxTokens <= 0 {
		opts.DefaultMaxTokens = fallbackMaxTokens
	}
	out := outRequest{Model: r.Model, MaxTokens: r.MaxTokens, Stream: r.Stream, TopP: r.TopP, TopK: r.TopK}
	if out.MaxTokens <= 0 {
		out.MaxTokens = opts.DefaultMaxTokens
	}
	msgs := r.Messages
	if !opts.SystemMessages {
		msgs = protocol.FoldSystem(msgs)
	}
	if out.Messages, err = encodeMessages(msgs); err != nil {
		return nil, nil, err
	}
	out.System = encodeSystem(r.System)
	out.Tools = encodeTools(r.Tools)
	out.ToolChoice = encodeToolChoice(r.ToolChoice, len(out.Tools) > 0)
	out.Temperature = clampTemperature(r.Temperature)
	out.StopSequences = r.StopSequences
	if r.User != "" {
		out.Metadata = &outMetadata{UserID: r.User}
	}
	if r.Output != nil {
		schema := r.Output.Schema
		if schema == nil {
			schema = json.RawMessage(`{"type":"object"}`)
		}
		out.config().Format = &outFormat{Type: "json_schema", Schema: schema}
	}
	dropped = append(slices.Clone(r.Dropped), unsent(r)...)
	if !encodeThinking(&out, r, opts) {
		dropped = append(dropped, "effort")
	}
	slices.Sort(dropped)
	if body, err = protocol.Marshal(out); err != nil {
		return nil, nil, fmt.Errorf("encode anthropic request: %w", err)
	}
	return body, slices.Compact(dropped), nil
}

// config is the request's output_config, made on first use.
func (o *outRequest) config() *outOutputCfg {
	if o.OutputConfig == nil {
		o.OutputConfig = &outOutputCfg{}
	}
	return o.OutputConfig
}

// unsent names the OpenAI-only sampling hints Anthropic has no counterpart
// of: left out, the answer is still one the client asked for.
func unsent(r protocol.Request) []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"seed", r.Seed != nil},
		{"presence_penalty", r.PresencePenalty != nil && *r.PresencePenalty != 0},
		{"frequency_penalty", r.FrequencyPenalty != nil && *r.FrequencyPenalty != 0},
		{"min_p", r.MinP != nil},
		{"repetition_penalty", r.RepetitionPenalty != nil},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// refuseOpenAIOnly refuses what Anthropic cannot give and the client would
// miss: several choices, token probabilities, token biases.
func refuseOpenAIOnly(r protocol.Request) error {
	no := func(field, what string) error {
		return reqErr(field, "Anthropic has no %s option (%s): leave it out to use an Anthropic backend", field, what)
	}
	switch {
	case len(r.Untranslatable) > 0:
		return reqErr(r.Untranslatable[0], "Anthropic has no counterpart of %s: leave it out to use an Anthropic backend", r.Untranslatable[0])
	case r.N != nil && *r.N > 1:
		return no("n", "it returns one choice per request")
	case !emptyJSON(r.LogitBias):
		return no("logit_bias", "token probabilities cannot be biased")
	case r.Logprobs != nil && *r.Logprobs:
		return no("logprobs", "it does not return token probabilities")
	case r.TopLogprobs != nil && *r.TopLogprobs > 0:
		return no("top_logprobs", "it does not return token probabilities")
	}
	return nil
}

// emptyJSON reports whether raw is absent, null, {} or [].
func emptyJSON(raw json.RawMessage) bool {
	if protocol.IsNull(bytes.TrimSpace(raw)) {
		return true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		return len(m) == 0
	}
	var a []json.RawMessage
	return json.Unmarshal(raw, &a) == nil && len(a) == 0
}

func encodeSystem(blocks []protocol.Block) any {
	var out []textBlock
	for _, b := range blocks {
		if b.Text != "" {
			out = append(out, textBlock{"text", b.Text})
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0].Text
	}
	return out
}

func encodeTools(tools []protocol.Tool) []outTool {
	out := make([]outTool, 0, len(tools))
	for _, t := range tools {
		out = append(out, outTool{Name: t.Name, Description: t.Description, InputSchema: inputSchema(t.InputSchema)})
	}
	return out
}

// emptySchema is the schema of a tool that takes no arguments.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

func inputSchema(raw json.RawMessage) json.RawMessage {
	schema, err := compactObject("", raw)
	if err != nil || string(schema) == "{}" {
		return emptySchema
	}
	var probe struct {
		Type json.RawMessage `json:"type"`
	}
	if json.Unmarshal(schema, &probe) == nil && probe.Type == nil {
		if withType, err := protocol.SetTopLevelString(schema, "type", "object"); err == nil {
			return withType
		}
	}
	return schema
}

func encodeToolChoice(tc *protocol.ToolChoice, haveTools bool) *outToolChoice {
	if tc == nil || !haveTools {
		return nil
	}
	out := &outToolChoice{DisableParallelToolUse: tc.DisableParallel}
	switch tc.Mode {
	case protocol.ToolChoiceNone:
		return &outToolChoice{Type: "none"}
	case protocol.ToolChoiceRequired:
		out.Type = "any"
	case protocol.ToolChoiceTool:
		out.Type, out.Name = "tool", tc.Name
	default:
		out.Type = "auto"
	}
	return out
}

func clampTemperature(t *float64) *float64 {
	if t == nil {
		return nil
	}
	c := min(max(*t, 0), 1)
	return &c
}

// encodeThinking sets thinking and effort; it reports false when an effort
// was asked for that the model cannot take.
func encodeThinking(out *outRequest, r protocol.Request, opts EncodeOptions) bool {
	t := r.Thinking
	if t == nil || (t.BudgetTokens == 0 && t.Effort == "none") {
		if r.Effort == "" {
			return true
		}
		if opts.AdaptiveThinking {
			out.config().Effort = anthropicEffort(r.Effort)
		}
		return opts.AdaptiveThinking
	}
	if toolUseWithoutThinking(out.Messages) {
		return true
	}
	if out.ToolChoice != nil && (out.ToolChoice.Type == "any" || out.ToolChoice.Type == "tool") {
		return true // the API refuses thinking with a forced tool call
	}
	if opts.AdaptiveThinking && t.Effort != "" {
		out.Thinking = &outThinkingCfg{Type: "adaptive"}
		out.config().Effort = anthropicEffort(t.Effort)
	} else {
		budget := t.BudgetTokens
		if budget == 0 {
			budget = protocol.EffortBudget(t.Effort)
		}
		budget = max(budget, minThinkingBudget)
		if out.MaxTokens <= budget {
			out.MaxTokens = budget + opts.DefaultMaxTokens
		}
		out.Thinking = &outThinkingCfg{Type: "enabled", BudgetTokens: budget}
	}
	// With thinking on, Anthropic takes only temperature 1, no top_k and
	// top_p of at least 0.95; the reasoning the client asked for wins over
	// the sampling settings editors send by habit.
	out.Temperature, out.TopK = nil, nil
	if out.TopP != nil && *out.TopP < 0.95 {
		out.TopP = nil
	}
	return true
}

// anthropicEffort is the nearest output_config.effort level: Anthropic's
// go from low to max.
func anthropicEffort(e string) string {
	if e == "minimal" {
		return "low"
	}
	return e
}

// toolUseWithoutThinking reports whether the last assistant turn calls a
// tool but does not begin with a thinking block, which the API refuses when
// thinking is on.
func toolUseWithoutThinking(msgs []outMessage) bool {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role != string(protocol.RoleAssistant) {
			continue
		}
		calls := false
		for _, b := range msgs[i].Content {
			_, isCall := b.(toolUseBlock)
			calls = calls || isCall
		}
		switch msgs[i].Content[0].(type) {
		case thinkingBlock, redactedThinkingBlock:
			return false
		}
		return calls
	}
	return false
}
