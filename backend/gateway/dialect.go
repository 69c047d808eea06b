package gateway

import (
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/anthropic"
	"github.com/modelbar/modelbar/backend/protocol/openai"
	"github.com/modelbar/modelbar/backend/protocol/responses"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// streamDecoder turns a backend's SSE events into internal events.
type streamDecoder interface {
	Decode(event []byte) ([]protocol.Event, error)
	Finish() ([]protocol.Event, error)
}

// streamEncoder turns internal events into a client's SSE events.
type streamEncoder interface {
	Encode(ev protocol.Event) []byte
}

var (
	_ streamDecoder = (*openai.StreamDecoder)(nil)
	_ streamDecoder = (*anthropic.StreamDecoder)(nil)
	_ streamDecoder = (*responses.StreamDecoder)(nil)
	_ streamEncoder = (*openai.StreamEncoder)(nil)
	_ streamEncoder = (*anthropic.StreamEncoder)(nil)
	_ streamEncoder = (*responses.StreamEncoder)(nil)
)

// dialect is everything the gateway needs to know of one API: where its
// chat endpoint is, how its chat requests, responses and streams convert to
// the internal model, how a stream of it ends, and how it reports errors.
type dialect struct {
	chatPath    string
	outputField string // the field that asks for structured output

	decodeRequest func(body []byte) (protocol.Request, error)
	// encodeRequest encodes r for a provider; dropped names what the body
	// leaves out. foldSystem: the provider refused system messages inside
	// the conversation before.
	encodeRequest  func(r protocol.Request, to *providers.Client, foldSystem bool) (body []byte, dropped []string, err error)
	decodeResponse func(body []byte) (protocol.Response, error)
	// encodeResponse encodes the answer to req.
	encodeResponse func(req protocol.Request, r protocol.Response) ([]byte, error)
	newDecoder     func() streamDecoder
	newEncoder     func(r protocol.Request, created int64) streamEncoder

	isDone  func(event []byte) bool
	isError func(event []byte) bool
	// finishes, if set, marks an event after which a clean end of the
	// connection completes the stream even without isDone's event.
	finishes        func(event []byte) bool
	errorEvent      func(errType, message string) []byte
	streamErrorType string
	errorBody       func(e *apiError) []byte
}

var dialects = map[protocol.Protocol]*dialect{
	protocol.OpenAI: {
		chatPath:      string(openai.ChatCompletions),
		outputField:   "response_format",
		decodeRequest: openai.DecodeChatRequest,
		encodeRequest: func(r protocol.Request, to *providers.Client, _ bool) ([]byte, []string, error) {
			return openai.EncodeChatRequest(r, openai.EncodeOptions{
				MaxTokensField: to.MaxTokensField(), SendReasoningEffort: to.ReasoningModel(r.Model),
			})
		},
		decodeResponse: openai.DecodeChatResponse,
		encodeResponse: func(_ protocol.Request, r protocol.Response) ([]byte, error) { return openai.EncodeChatResponse(r) },
		newDecoder:     func() streamDecoder { return openai.NewStreamDecoder() },
		newEncoder: func(r protocol.Request, created int64) streamEncoder {
			return openai.NewStreamEncoder(r.IncludeUsage, created)
		},
		isDone:          openai.IsDone,
		isError:         openai.IsError,
		finishes:        openai.Finishes,
		errorEvent:      openai.ErrorEvent,
		streamErrorType: "server_error",
		errorBody:       openAIErrorBody,
	},
	protocol.Anthropic: {
		chatPath:      "/v1/messages",
		outputField:   "output_config.format",
		decodeRequest: anthropic.DecodeMessagesRequest,
		encodeRequest: func(r protocol.Request, to *providers.Client, foldSystem bool) ([]byte, []string, error) {
			return anthropic.EncodeMessagesRequest(r, anthropic.EncodeOptions{
				DefaultMaxTokens: to.DefaultMaxTokens(), SystemMessages: !foldSystem, AdaptiveThinking: to.AdaptiveThinking(r.Model),
			})
		},
		decodeResponse: anthropic.DecodeMessagesResponse,
		encodeResponse: func(_ protocol.Request, r protocol.Response) ([]byte, error) {
			return anthropic.EncodeMessagesResponse(r)
		},
		newDecoder:      func() streamDecoder { return anthropic.NewStreamDecoder() },
		newEncoder:      func(protocol.Request, int64) streamEncoder { return anthropic.NewStreamEncoder() },
		isDone:          anthropic.IsDone,
		isError:         anthropic.IsError,
		errorEvent:      anthropic.ErrorEvent,
		streamErrorType: "api_error",
		errorBody:       anthropicErrorBody,
	},
	// The Responses API: a client's, and the API of the providers whose
	// models speak only it (providers.APIResponses), to which the
	// requests of chat-completions and Anthropic clients are translated.
	protocol.Responses: {
		chatPath:      responses.Path,
		outputField:   "text.format",
		decodeRequest: responses.DecodeRequest,
		encodeRequest: func(r protocol.Request, to *providers.Client, _ bool) ([]byte, []string, error) {
			return responses.EncodeRequest(r, responses.EncodeOptions{Reasoning: to.ReasoningModel(r.Model)})
		},
		decodeResponse:  responses.DecodeResponse,
		encodeResponse:  responses.EncodeResponse,
		newDecoder:      func() streamDecoder { return responses.NewStreamDecoder() },
		newEncoder:      func(r protocol.Request, created int64) streamEncoder { return responses.NewStreamEncoder(r, created) },
		isDone:          responses.IsDone,
		isError:         responses.IsError,
		errorEvent:      responses.ErrorEvent,
		streamErrorType: "server_error",
		errorBody:       openAIErrorBody,
	},
}

// providerProtocol is the API a provider speaks.
func providerProtocol(c *providers.Client) protocol.Protocol {
	if c.Type() == providers.Anthropic {
		return protocol.Anthropic
	}
	return protocol.OpenAI
}

// chatProtocol is the API a provider's model speaks for chat: the
// Responses API for an OpenAI-API provider or route set to api
// "responses", else the provider's own.
func chatProtocol(c *providers.Client, t router.Target) protocol.Protocol {
	if responsesOnly(c, t) {
		return protocol.Responses
	}
	return providerProtocol(c)
}

// responsesOnly reports whether target t's model speaks only the
// Responses API.
func responsesOnly(c *providers.Client, t router.Target) bool {
	return c.ResponsesOnly() || (t.API == string(providers.APIResponses) && providerProtocol(c) == protocol.OpenAI)
}
