package protocol

import "encoding/json"

// This file is the one internal model of a chat exchange. A request from
// either API is decoded into a Request; a backend of either API (or the local
// engine) is given one encoded for it; its answer comes back as a Response or
// a stream of Events, encoded for the client. Translating between the OpenAI
// and Anthropic APIs is therefore decode-then-encode through these types, and
// nothing else knows either wire format. Same-protocol traffic never comes
// here: it is relayed byte for byte.
//
// The model follows Anthropic's shape (content blocks, tool results inside
// user turns, a separate system prompt) because it is the richer of the two:
// every OpenAI construct maps onto it without loss, while the reverse needs
// the decisions recorded in the encoders.

// Role of a message.
type Role string

const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	// RoleSystem is a system message inside the conversation (OpenAI's
	// system and developer messages after the first turn; Anthropic's
	// mid-conversation system messages): text blocks only. System
	// messages before the first turn are Request.System instead.
	RoleSystem Role = "system"
)

// Request is a chat request in either API.
type Request struct {
	Model    string
	System   []Block // text blocks only; OpenAI system/developer messages land here in order
	Messages []Message
	Tools    []Tool
	// ToolChoice is nil when the client did not say.
	ToolChoice *ToolChoice
	MaxTokens  int // 0: not given (OpenAI clients may omit it; Anthropic requires it)
	Stream     bool
	// Effort is how much effort the model should spend when the client
	// asked for it without asking for visible reasoning (Anthropic
	// output_config.effort with thinking off): a level as in Thinking.
	Effort string
	// IncludeUsage: an OpenAI client asked for the final usage chunk
	// (stream_options.include_usage). Anthropic clients always get usage.
	IncludeUsage bool

	Temperature *float64
	TopP        *float64
	TopK        *int
	// MinP and RepetitionPenalty are the extensions vLLM, llama.cpp and
	// LM Studio take in OpenAI requests (min_p, repetition_penalty); the
	// local engine honours them, OpenAI-compatible backends get them as
	// sent, and Anthropic has neither.
	MinP              *float64
	RepetitionPenalty *float64
	StopSequences     []string
	User              string    // OpenAI user / Anthropic metadata.user_id
	Thinking          *Thinking // nil: the client did not ask for reasoning

	// OpenAI-only sampling and output controls. The OpenAI encoder sends them
	// on; the Anthropic encoder refuses a request that sets one (it has no
	// counterpart) with an error naming the OpenAI field.
	N                *int            // n
	Seed             *int64          // seed
	PresencePenalty  *float64        // presence_penalty
	FrequencyPenalty *float64        // frequency_penalty
	LogitBias        json.RawMessage // logit_bias
	Logprobs         *bool           // logprobs
	TopLogprobs      *int            // top_logprobs

	// Output asks for structured output (OpenAI response_format json_object
	// or json_schema, Anthropic output_config.format); nil: free text.
	Output *OutputFormat

	// Untranslatable names fields the client set that change the answer
	// and that only a backend of its own API can honour (OpenAI audio
	// output). An encoder for the other API refuses the request, naming
	// the first.
	Untranslatable []string
	// Dropped names what the client sent that asks for nothing another
	// API can give and that does not change the answer: caching and
	// context-management hints, service tiers, storage flags, metadata
	// beyond the user id, hosted tools, fields newer than this code. An
	// encoder for another backend leaves them out; the gateway names them
	// to the client (X-Modelbar-Dropped).
	Dropped []string

	// Client is what the client API's decoder keeps for the encoder of
	// the answer and nothing else reads (the Responses API: how flattened
	// tool names read to the client). Encoders for backends ignore it.
	Client any
}

// OutputFormat is a request for JSON output.
type OutputFormat struct {
	// Schema is the JSON Schema the answer must follow; nil asks for any
	// JSON object (OpenAI's json_object).
	Schema      json.RawMessage
	Name        string // OpenAI json_schema.name; "" when the client gave none
	Description string // OpenAI json_schema.description
	Strict      *bool  // OpenAI json_schema.strict, as given
	// Field is the request field that asked for it when it is not the
	// API's usual one (Anthropic's older top-level output_format), for
	// errors to name; "" otherwise.
	Field string `json:",omitempty"`
}

// Message is one turn. Tool results are blocks of a user message, as in
// Anthropic's API; an OpenAI "tool" message becomes one.
type Message struct {
	Role    Role
	Content []Block
}

// BlockType is the kind of a content block.
type BlockType string

const (
	BlockText             BlockType = "text"
	BlockImage            BlockType = "image"
	BlockToolUse          BlockType = "tool_use"
	BlockToolResult       BlockType = "tool_result"
	BlockThinking         BlockType = "thinking"
	BlockRedactedThinking BlockType = "redacted_thinking"
)

// Block is one piece of content. Which fields are set depends on Type.
type Block struct {
	Type BlockType

	Text string // text; thinking: the reasoning text

	Image *Image // image

	// tool_use: ID, Name and Input (a JSON object, as the model produced it)
	ID    string
	Name  string
	Input json.RawMessage

	// tool_result: ToolUseID, Content (text and image blocks) and IsError
	ToolUseID string
	Content   []Block
	IsError   bool

	Signature string // thinking: Anthropic's signature; redacted_thinking: the opaque data
}

// Image is an image given inline (base64) or by URL.
type Image struct {
	MediaType string // "image/png", ...; set for inline data
	Data      string // base64, without a data: prefix
	URL       string // set instead of Data for a remote image
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	InputSchema json.RawMessage // JSON Schema of the arguments object
}

// ToolChoiceMode says whether and how the model must call a tool.
type ToolChoiceMode string

const (
	ToolChoiceAuto     ToolChoiceMode = "auto"     // OpenAI "auto", Anthropic {"type":"auto"}
	ToolChoiceNone     ToolChoiceMode = "none"     // OpenAI "none", Anthropic {"type":"none"}
	ToolChoiceRequired ToolChoiceMode = "required" // OpenAI "required", Anthropic {"type":"any"}
	ToolChoiceTool     ToolChoiceMode = "tool"     // a named function / {"type":"tool","name":...}
)

// ToolChoice is the client's tool_choice (and parallel-call preference).
type ToolChoice struct {
	Mode ToolChoiceMode
	Name string // ToolChoiceTool only
	// DisableParallel: OpenAI parallel_tool_calls=false / Anthropic
	// disable_parallel_tool_use=true.
	DisableParallel bool
}

// Thinking is a request for visible reasoning. Anthropic asks with a token
// budget, OpenAI with an effort level; each encoder converts the one it lacks
// (see EffortBudget).
type Thinking struct {
	BudgetTokens int    // Anthropic thinking.budget_tokens; 0 if only Effort was given
	Effort       string // a level of Efforts; "" if only a budget was given
	// Adaptive: the client let the model decide how much to think
	// (Anthropic thinking {"type":"adaptive"}), at Effort.
	Adaptive bool
}

// Efforts are the effort levels of both APIs, lowest first: OpenAI's
// reasoning_effort goes from "minimal" to "xhigh", Anthropic's
// output_config.effort from "low" to "max". Each encoder sends the nearest
// level its API has.
var Efforts = []string{"minimal", "low", "medium", "high", "xhigh", "max"}

// IsEffort reports whether s is one of Efforts.
func IsEffort(s string) bool {
	for _, e := range Efforts {
		if e == s {
			return true
		}
	}
	return false
}

// StopReason is why generation ended, in Anthropic's terms.
type StopReason string

const (
	StopEndTurn   StopReason = "end_turn"      // OpenAI "stop"
	StopMaxTokens StopReason = "max_tokens"    // OpenAI "length"
	StopSequence  StopReason = "stop_sequence" // OpenAI "stop"
	StopToolUse   StopReason = "tool_use"      // OpenAI "tool_calls"
	StopRefusal   StopReason = "refusal"       // OpenAI "content_filter"
	StopPauseTurn StopReason = "pause_turn"    // OpenAI "stop"
)

// Usage counts tokens. InputTokens excludes cached tokens, as Anthropic
// counts; OpenAI's prompt_tokens is InputTokens + CacheReadTokens +
// CacheWriteTokens.
type Usage struct {
	InputTokens      int
	OutputTokens     int
	CacheReadTokens  int
	CacheWriteTokens int
	ReasoningTokens  int // part of OutputTokens, when the backend says
}

// Response is a complete (non-streaming) answer.
type Response struct {
	ID           string
	Model        string
	Content      []Block // text, thinking, redacted_thinking and tool_use blocks
	StopReason   StopReason
	StopSequence string // which stop sequence matched, if the backend said
	Usage        Usage
	Created      int64 // unix seconds (OpenAI "created"); 0: unknown
}

// EventType is the kind of a stream event.
type EventType string

const (
	// EventStart opens the message: ID, Model, and Usage as known so far
	// (Anthropic backends report input tokens here; OpenAI ones at the end).
	EventStart EventType = "start"
	// EventBlockStart opens content block Index. Block carries its Type and,
	// for tool_use, ID and Name (Input empty); other fields are empty.
	EventBlockStart EventType = "block_start"
	// EventDelta adds to the open block Index: Delta is text (text blocks),
	// reasoning text (thinking), a fragment of the tool input JSON
	// (tool_use), per DeltaType.
	EventDelta EventType = "delta"
	// EventBlockStop closes block Index.
	EventBlockStop EventType = "block_stop"
	// EventStop ends the message: StopReason, StopSequence and the final,
	// cumulative Usage. Nothing follows it.
	EventStop EventType = "stop"
	// EventError ends the stream with an error (an in-band error of the
	// backend, or a broken stream). Nothing follows it.
	EventError EventType = "error"
)

// DeltaType says what an EventDelta adds.
type DeltaType string

const (
	DeltaText      DeltaType = "text"
	DeltaThinking  DeltaType = "thinking"
	DeltaInputJSON DeltaType = "input_json"
	DeltaSignature DeltaType = "signature"
)

// Event is one step of a streamed answer. Blocks are opened, filled and
// closed one at a time, in Index order starting at 0, as in Anthropic's API.
type Event struct {
	Type EventType

	// EventStart
	ID    string
	Model string

	Index     int    // block events
	Block     *Block // EventBlockStart
	DeltaType DeltaType
	Delta     string

	StopReason   StopReason // EventStop
	StopSequence string     // EventStop
	Usage        Usage      // EventStart (so far), EventStop (final)

	Err *StreamError // EventError
}

// StreamError is an error reported inside a stream.
type StreamError struct {
	Type    string // the backend's error type ("overloaded_error", "server_error", ...)
	Message string
}

// EffortBudget converts between an effort level and an Anthropic thinking
// budget: minimal 1024, low 2048, medium 8192, high 24576, xhigh 32768,
// max 49152 tokens. Budgets convert back to the nearest level at or above
// them.
func EffortBudget(effort string) int {
	switch effort {
	case "minimal":
		return 1024
	case "low":
		return 2048
	case "high":
		return 24576
	case "xhigh":
		return 32768
	case "max":
		return 49152
	}
	return 8192
}

// BudgetEffort is EffortBudget's inverse.
func BudgetEffort(budget int) string {
	switch {
	case budget <= 1024:
		return "minimal"
	case budget <= 2048:
		return "low"
	case budget <= 8192:
		return "medium"
	case budget <= 24576:
		return "high"
	case budget <= 32768:
		return "xhigh"
	}
	return "max"
}
