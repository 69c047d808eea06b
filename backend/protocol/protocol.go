// Package protocol holds the wire formats modelbar speaks and the pure
// functions over them: request validation, model-name rewriting and (for the
// streaming path) SSE framing. Nothing here does I/O.
package protocol

// Protocol is the API dialect of a client or a backend.
type Protocol string

const (
	OpenAI    Protocol = "openai"
	Anthropic Protocol = "anthropic"
	// Responses is OpenAI's Responses API, as a client speaks it.
	Responses Protocol = "responses"
)
