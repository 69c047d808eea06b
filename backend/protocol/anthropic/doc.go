// Package anthropic is the Anthropic Messages wire format: request
// validation, and the conversion of requests, responses and streams to and
// from the internal model in package protocol. Pure: no I/O.
//
// Requests: DecodeMessagesRequest and DecodeCountTokensRequest validate a
// client's body as the API does (errors name the field, in the API's
// "messages.1.content.0" style) and convert it; EncodeMessagesRequest
// builds the body for an Anthropic backend and refuses what it cannot say.
// ParseEnvelope is the light check for bodies relayed untouched.
//
// Answers: DecodeMessagesResponse and EncodeMessagesResponse convert whole
// responses; StreamDecoder and StreamEncoder convert streams one
// server-sent event at a time, each keeping the internal event sequence (or
// the SSE it writes) well formed whatever it is given.
//
// Errors: ErrorBody and ErrorType give the API's error body for an HTTP
// status; ErrorEvent the in-stream error event.
//
// Every decision where the two APIs or the internal model differ is
// written on the function that makes it.
package anthropic
