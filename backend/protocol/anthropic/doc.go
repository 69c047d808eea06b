// Package anthropic is the Anthropic Messages wire format: request
// validation, and the conversion of requests, responses and streams to and
// from the internal model in package protocol. Pure: no I/O.
package anthropic
