package anthropic

import (
	"encoding/json"

	"github.com/modelbar/modelbar/backend/protocol"
)

// StreamEncoder turns internal events into the server-sent events of a
// Messages stream ("event: X\ndata: {...}\n\n"). Not safe for concurrent
// use; the zero value is ready (NewStreamEncoder is for symmetry).
//
// What it writes:
//   - EventStart: message_start (the message with id, model, empty content,
//     null stop_reason and stop_sequence, and usage with input, cache and
//     output counts), then a ping.
//   - EventBlockStart: content_block_start with {"type":"text","text":""},
//     {"type":"thinking","thinking":"","signature":""},
//     {"type":"redacted_thinking","data":...} (from Block.Signature) or
//     {"type":"tool_use","id","name","input":{}}. Content already in the
//     Block (text, or a tool Input) follows as a delta.
//   - EventDelta: content_block_delta with text_delta, thinking_delta,
//     signature_delta or input_json_delta (partial_json, passed on as is).
//   - EventBlockStop: content_block_stop.
//   - EventStop: message_delta with stop_reason and stop_sequence (null
//     when empty) and the final usage (output, input and cache counts, so
//     that a backend that counts input only at the end is still reported),
//     then message_stop.
//   - EventError: ErrorEvent with the error's type ("api_error" if none).
//
// Indices are the encoder's own, contiguous from 0, so its output is well
// formed whatever the input: an event before EventStart gets a
// message_start (with empty id and model) first; a block start while a
// block is open closes the open one; a delta with no open block, for
// another index, or of a kind that does not fit the open block (text into a
// tool_use) opens a new block of the delta's kind; an unknown delta kind, a
// stop for a block that is not open, a start of an unknown block type and a
// second EventStart are ignored; EventStop closes a block left open. Nothing
// is written after EventStop or EventError.
type StreamEncoder struct {
	started, ended bool
	open           bool
	openIndex      int                // the input's index of the open block
	openType       protocol.BlockType // its type
	index          int                // the output index of the open block
	next           int                // the next output index
}

// NewStreamEncoder returns an encoder for one stream.
func NewStreamEncoder() *StreamEncoder { return &StreamEncoder{} }

// Encode returns zero or more whole server-sent events for ev.
func (e *StreamEncoder) Encode(ev protocol.Event) []byte {
	if e.ended {
		return nil
	}
	if ev.Type == protocol.EventError {
		e.ended = true
		return errorEvent(ev.Err)
	}
	var out []byte
	if !e.started {
		e.started = true
		out = messageStart(ev)
		if ev.Type == protocol.EventStart {
			return out
		}
	}
	switch ev.Type {
	case protocol.EventBlockStart:
		out = append(out, e.blockStart(ev.Index, ev.Block)...)
	case protocol.EventDelta:
		out = append(out, e.delta(ev)...)
	case protocol.EventBlockStop:
		if e.open && ev.Index == e.openIndex {
			out = append(out, e.closeOpen()...)
		}
	case protocol.EventStop:
		out = append(out, e.stop(ev)...)
	}
	return out
}

func errorEvent(se *protocol.StreamError) []byte {
	if se == nil {
		se = &protocol.StreamError{}
	}
	typ := se.Type
	if typ == "" {
		typ = "api_error"
	}
	return ErrorEvent(typ, se.Message)
}

// sse renders one server-sent event.
func sse(name string, payload any) []byte {
	data, err := protocol.Marshal(payload)
	if err != nil { // cannot happen: every payload is made of plain values
		return ErrorEvent("api_error", "modelbar could not encode a stream event: "+err.Error())
	}
	out := make([]byte, 0, len(name)+len(data)+16)
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, "\ndata: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}

// messageStart opens the message. For an event other than EventStart it is
// made up, with no id or model, so that the stream stays well formed.
func messageStart(ev protocol.Event) []byte {
	var msg outResponse
	if ev.Type == protocol.EventStart {
		msg = outResponse{ID: ev.ID, Model: ev.Model, Usage: toWireUsage(ev.Usage)}
	}
	msg.Type, msg.Role, msg.Content = "message", "assistant", []any{}
	out := sse("message_start", struct {
		Type    string      `json:"type"`
		Message outResponse `json:"message"`
	}{"message_start", msg})
	return append(out, sse("ping", struct {
		Type string `json:"type"`
	}{"ping"})...)
}

func (e *StreamEncoder) blockStart(index int, b *protocol.Block) []byte {
	if b == nil {
		b = &protocol.Block{Type: protocol.BlockText}
	}
	var head any
	switch b.Type {
	case protocol.BlockText:
		head = textBlock{"text", ""}
	case protocol.BlockThinking:
		head = thinkingBlock{"thinking", "", ""}
	case protocol.BlockRedactedThinking:
		head = redactedThinkingBlock{"redacted_thinking", b.Signature}
	case protocol.BlockToolUse:
		head = toolUseBlock{"tool_use", b.ID, b.Name, json.RawMessage("{}")}
	default:
		return nil
	}
	out := e.closeOpen()
	e.open, e.openIndex, e.openType, e.index = true, index, b.Type, e.next
	e.next++
	out = append(out, sse("content_block_start", struct {
		Type         string `json:"type"`
		Index        int    `json:"index"`
		ContentBlock any    `json:"content_block"`
	}{"content_block_start", e.index, head})...)
	return append(out, e.blockContent(index, b)...)
}

// blockContent writes what a BlockStart's Block already holds as deltas.
func (e *StreamEncoder) blockContent(index int, b *protocol.Block) []byte {
	var out []byte
	add := func(t protocol.DeltaType, s string) {
		if s != "" {
			out = append(out, e.delta(protocol.Event{Type: protocol.EventDelta, Index: index, DeltaType: t, Delta: s})...)
		}
	}
	switch b.Type {
	case protocol.BlockText:
		add(protocol.DeltaText, b.Text)
	case protocol.BlockThinking:
		add(protocol.DeltaThinking, b.Text)
		add(protocol.DeltaSignature, b.Signature)
	case protocol.BlockToolUse:
		if !protocol.IsNull(b.Input) && string(b.Input) != "{}" {
			add(protocol.DeltaInputJSON, string(b.Input))
		}
	}
	return out
}

// deltaWire maps an internal delta type to the API's delta type, the member
// that carries it, and the block type it belongs to.
var deltaWire = map[protocol.DeltaType]struct {
	typ, member string
	block       protocol.BlockType
}{
	protocol.DeltaText:      {"text_delta", "text", protocol.BlockText},
	protocol.DeltaThinking:  {"thinking_delta", "thinking", protocol.BlockThinking},
	protocol.DeltaSignature: {"signature_delta", "signature", protocol.BlockThinking},
	protocol.DeltaInputJSON: {"input_json_delta", "partial_json", protocol.BlockToolUse},
}

func (e *StreamEncoder) delta(ev protocol.Event) []byte {
	w, ok := deltaWire[ev.DeltaType]
	if !ok {
		return nil
	}
	var out []byte
	if !e.open || ev.Index != e.openIndex || e.openType != w.block {
		out = e.blockStart(ev.Index, &protocol.Block{Type: w.block})
	}
	text, _ := protocol.Marshal(ev.Delta) // a string always marshals
	payload := json.RawMessage(`{"type":"` + w.typ + `","` + w.member + `":` + string(text) + `}`)
	return append(out, sse("content_block_delta", struct {
		Type  string          `json:"type"`
		Index int             `json:"index"`
		Delta json.RawMessage `json:"delta"`
	}{"content_block_delta", e.index, payload})...)
}

func (e *StreamEncoder) closeOpen() []byte {
	if !e.open {
		return nil
	}
	e.open = false
	return sse("content_block_stop", struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}{"content_block_stop", e.index})
}

// messageDelta is the message_delta event that ends a message.
type messageDelta struct {
	Type  string    `json:"type"`
	Delta stopDelta `json:"delta"`
	Usage usage     `json:"usage"`
}

type stopDelta struct {
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

func (e *StreamEncoder) stop(ev protocol.Event) []byte {
	e.ended = true
	out := e.closeOpen()
	out = append(out, sse("message_delta", messageDelta{
		Type:  "message_delta",
		Delta: stopDelta{nullable(string(ev.StopReason)), nullable(ev.StopSequence)},
		Usage: toWireUsage(ev.Usage),
	})...)
	return append(out, sse("message_stop", struct {
		Type string `json:"type"`
	}{"message_stop"})...)
}
