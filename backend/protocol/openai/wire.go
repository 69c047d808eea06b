package openai

import (
	"bytes"
	"encoding/json"
)

// This file holds the OpenAI wire structures. Requests from clients are
// decoded field by field from raw JSON (request_decode.go) so that every
// error can name its field; the structures here are what the encoders write
// and what the (lenient) response and stream decoders read from backends.

// chatRequestOut is a chat completion request as modelbar sends it to an
// OpenAI-compatible backend.
type chatRequestOut struct {
	Model               string          `json:"model"`
	Messages            []messageOut    `json:"messages"`
	Tools               []toolOut       `json:"tools,omitempty"`
	ToolChoice          any             `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	TopK                *int            `json:"top_k,omitempty"`
	MinP                *float64        `json:"min_p,omitempty"`
	RepetitionPenalty   *float64        `json:"repetition_penalty,omitempty"`
	Stop                []string        `json:"stop,omitempty"`
	User                string          `json:"user,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *streamOptions  `json:"stream_options,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	LogitBias           json.RawMessage `json:"logit_bias,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int            `json:"top_logprobs,omitempty"`
	ResponseFormat      any             `json:"response_format,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// messageOut is one message of a request, or the message of a response.
// Content is a string, a []partOut, or nil (null).
type messageOut struct {
	Role             string        `json:"role"`
	Content          any           `json:"content"`
	ReasoningContent string        `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallOut `json:"tool_calls,omitempty"`
	ToolCallID       string        `json:"tool_call_id,omitempty"`
}

// responseMessageOut is the message of a chat.completion: as messageOut,
// plus the refusal field OpenAI always writes.
type responseMessageOut struct {
	Role             string        `json:"role"`
	Content          *string       `json:"content"`
	ReasoningContent string        `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallOut `json:"tool_calls,omitempty"`
	Refusal          *string       `json:"refusal"`
}

type partOut struct {
	Type     string       `json:"type"`
	Text     string       `json:"text,omitempty"`
	ImageURL *imageURLOut `json:"image_url,omitempty"`
}

type imageURLOut struct {
	URL string `json:"url"`
}

// toolCallOut is a tool call in a request, a response or a stream chunk.
// Index is set in chunks only.
type toolCallOut struct {
	Index    *int        `json:"index,omitempty"`
	ID       string      `json:"id,omitempty"`
	Type     string      `json:"type,omitempty"`
	Function functionOut `json:"function"`
}

type functionOut struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type toolOut struct {
	Type     string         `json:"type"`
	Function toolFunctionIO `json:"function"`
}

type toolFunctionIO struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

type namedToolChoice struct {
	Type     string       `json:"type"`
	Function functionName `json:"function"`
}

type functionName struct {
	Name string `json:"name"`
}

// chatResponseOut is a chat.completion object.
type chatResponseOut struct {
	ID      string              `json:"id"`
	Object  string              `json:"object"`
	Created int64               `json:"created"`
	Model   string              `json:"model"`
	Choices []responseChoiceOut `json:"choices"`
	Usage   usageIO             `json:"usage"`
}

type responseChoiceOut struct {
	Index        int                `json:"index"`
	Message      responseMessageOut `json:"message"`
	Logprobs     *struct{}          `json:"logprobs"` // always null
	FinishReason string             `json:"finish_reason"`
}

// chunkOut is a chat.completion.chunk object.
type chunkOut struct {
	ID      string           `json:"id"`
	Object  string           `json:"object"`
	Created int64            `json:"created"`
	Model   string           `json:"model"`
	Choices []chunkChoiceOut `json:"choices"`
	Usage   *usageIO         `json:"usage,omitempty"`
}

type chunkChoiceOut struct {
	Index        int       `json:"index"`
	Delta        deltaOut  `json:"delta"`
	Logprobs     *struct{} `json:"logprobs"` // always null
	FinishReason *string   `json:"finish_reason"`
}

type deltaOut struct {
	Role             string        `json:"role,omitempty"`
	Content          *string       `json:"content,omitempty"`
	ReasoningContent string        `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallOut `json:"tool_calls,omitempty"`
}

// usageIO is the usage object, read and written.
type usageIO struct {
	PromptTokens            int                `json:"prompt_tokens"`
	CompletionTokens        int                `json:"completion_tokens"`
	TotalTokens             int                `json:"total_tokens"`
	PromptTokensDetails     *promptDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *completionDetails `json:"completion_tokens_details,omitempty"`
	// DeepSeek reports cache hits here instead of cached_tokens.
	PromptCacheHitTokens int `json:"prompt_cache_hit_tokens,omitempty"`
}

type promptDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

type completionDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// chatResponseIn is a chat.completion or chat.completion.chunk object as a
// backend sends it. Decoding is lenient: fields a compatible server may
// omit are optional, and loosely typed ones are read with lenientString.
type chatResponseIn struct {
	ID      string          `json:"id"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []choiceIn      `json:"choices"`
	Usage   *usageIO        `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

type choiceIn struct {
	Index        int        `json:"index"`
	Message      *messageIn `json:"message"`
	Delta        *messageIn `json:"delta"`
	FinishReason string     `json:"finish_reason"`
	// StopReason is vLLM's extension: the matched stop string (or token id).
	StopReason json.RawMessage `json:"stop_reason"`
}

type messageIn struct {
	Content          json.RawMessage `json:"content"`
	ReasoningContent lenientString   `json:"reasoning_content"`
	Reasoning        lenientString   `json:"reasoning"`
	Refusal          lenientString   `json:"refusal"`
	ToolCalls        []toolCallIn    `json:"tool_calls"`
	FunctionCall     *functionIn     `json:"function_call"`
}

// reasoning is the message's reasoning text: reasoning_content (DeepSeek,
// older vLLM), else reasoning (Ollama, OpenRouter, newer vLLM). Servers that
// send both send the same text twice, so only one is taken.
func (m *messageIn) reasoning() string {
	if m.ReasoningContent != "" {
		return string(m.ReasoningContent)
	}
	return string(m.Reasoning)
}

type toolCallIn struct {
	Index    *int       `json:"index"`
	ID       string     `json:"id"`
	Function functionIn `json:"function"`
}

type functionIn struct {
	Name      lenientString `json:"name"`
	Arguments arguments     `json:"arguments"`
}

// lenientString reads a JSON string; null and values of other types read as
// "" rather than failing the whole response.
type lenientString string

// UnmarshalJSON implements json.Unmarshaler.
func (s *lenientString) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		*s = lenientString(v)
	}
	return nil
}

// arguments reads function.arguments: a string as OpenAI sends it, or (from
// servers that get it wrong) the JSON object itself, kept as its text.
type arguments string

// UnmarshalJSON implements json.Unmarshaler.
func (a *arguments) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		*a = arguments(v)
		return nil
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		*a = arguments(t)
	}
	return nil
}

type responseFormatOut struct {
	Type       string        `json:"type"`
	JSONSchema jsonSchemaOut `json:"json_schema"`
}

type jsonSchemaOut struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema"`
	Strict      *bool           `json:"strict,omitempty"`
}
