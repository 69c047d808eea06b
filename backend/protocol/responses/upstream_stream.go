package responses

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelbar/modelbar/backend/protocol"
)

// StreamDecoder turns a provider's Responses stream into internal events,
// as DecodeResponse does the Response object: each output item it can
// read becomes one block (message: text; reasoning: thinking, summaries
// joined by a blank line, its encrypted_content a signature delta at the
// end, and no block at all when it has neither; function_call: tool_use), response.completed and
// response.incomplete the stop, response.failed and error an error event.
// Other events (in_progress, content parts, the done events that repeat
// what the deltas said, hosted tools' progress) add nothing. The zero
// value is ready; not safe for concurrent use.
type StreamDecoder struct {
	started, ended bool
	next           int     // the index of the next block
	cur            *upOpen // the block being streamed
	calls          bool    // a function call was made: the stop reason is tool_use
}

// upOpen is the block of the output item being streamed.
type upOpen struct {
	index       int
	head        *protocol.Block // the block start not sent yet: a reasoning item, until it has content
	typ         string          // the item type
	sent        int             // bytes of text or arguments sent as deltas
	summary     int             // the reasoning summary part being streamed; -1 before the first
	customInput string          // a custom tool call's input, sent whole when done
}

// NewStreamDecoder returns a decoder for one stream.
func NewStreamDecoder() *StreamDecoder { return &StreamDecoder{} }

// upEvent is one stream event, the fields read.
type upEvent struct {
	Type         string      `json:"type"`
	Response     *upResponse `json:"response"`
	Item         *upItem     `json:"item"`
	Delta        string      `json:"delta"`
	SummaryIndex int         `json:"summary_index"`
	Code         string      `json:"code"`
	Message      string      `json:"message"`
}

// Decode returns the internal events of one SSE event.
func (d *StreamDecoder) Decode(event []byte) ([]protocol.Event, error) {
	data := protocol.EventData(event)
	if len(data) == 0 || d.ended {
		return nil, nil
	}
	var ev upEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, fmt.Errorf("decode responses stream event: %w", err)
	}
	var out []protocol.Event
	if !d.started {
		d.started = true
		start := protocol.Event{Type: protocol.EventStart}
		if r := ev.Response; r != nil {
			start.ID, start.Model = r.ID, r.Model
		}
		out = append(out, start)
	}
	return append(out, d.decode(ev)...), nil
}

func (d *StreamDecoder) decode(ev upEvent) []protocol.Event {
	switch ev.Type {
	case "response.output_item.added":
		return append(d.close(), d.open(ev.Item)...)
	case "response.output_text.delta", "response.refusal.delta":
		return d.delta("message", protocol.DeltaText, ev.Delta)
	case "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta":
		return d.summary(ev)
	case "response.function_call_arguments.delta":
		return d.delta("function_call", protocol.DeltaInputJSON, ev.Delta)
	case "response.custom_tool_call_input.delta":
		if d.cur != nil && d.cur.typ == "custom_tool_call" {
			d.cur.customInput += ev.Delta
		}
	case "response.output_item.done":
		return append(d.finishItem(ev.Item), d.close()...)
	case "response.completed", "response.incomplete":
		d.ended = true
		stop := protocol.Event{Type: protocol.EventStop}
		if r := ev.Response; r != nil {
			stop.Usage = r.Usage.internal()
			stop.StopReason = stopReason(r.Status, r.IncompleteDetails, d.calls)
		} else {
			stop.StopReason = stopReason(ev.Type[len("response."):], nil, d.calls)
		}
		return append(d.close(), stop)
	case "response.failed", "error":
		d.ended = true
		e := &protocol.StreamError{Type: ev.Code, Message: ev.Message}
		if r := ev.Response; r != nil && r.Error != nil {
			e.Type, e.Message = r.Error.Code, r.Error.Message
		}
		if e.Type == "" {
			e.Type = "server_error"
		}
		if e.Message == "" {
			e.Message = "the response failed"
		}
		return []protocol.Event{{Type: protocol.EventError, Err: e}}
	}
	return nil
}

func (d *StreamDecoder) open(it *upItem) []protocol.Event {
	if it == nil {
		return nil
	}
	head := protocol.Block{}
	switch it.Type {
	case "message":
		head.Type = protocol.BlockText
	case "reasoning":
		head.Type = protocol.BlockThinking
	case "function_call", "custom_tool_call":
		head = protocol.Block{Type: protocol.BlockToolUse, ID: it.CallID, Name: it.Name}
		d.calls = true
	default:
		return nil
	}
	d.cur = &upOpen{typ: it.Type, summary: -1, head: &head}
	if it.Type == "reasoning" {
		return nil // a reasoning item without summary or encrypted content is no block at all
	}
	return d.begin()
}

// begin sends the open item's block start, if it has not been sent.
func (d *StreamDecoder) begin() []protocol.Event {
	c := d.cur
	if c.head == nil {
		return nil
	}
	c.index, d.next = d.next, d.next+1
	ev := protocol.Event{Type: protocol.EventBlockStart, Index: c.index, Block: c.head}
	c.head = nil
	return []protocol.Event{ev}
}

func (d *StreamDecoder) delta(typ string, dt protocol.DeltaType, s string) []protocol.Event {
	if d.cur == nil || d.cur.typ != typ || s == "" {
		return nil
	}
	d.cur.sent += len(s)
	return append(d.begin(), protocol.Event{Type: protocol.EventDelta, Index: d.cur.index, DeltaType: dt, Delta: s})
}

// summary streams a reasoning summary, a blank line between its parts.
func (d *StreamDecoder) summary(ev upEvent) []protocol.Event {
	c := d.cur
	if c == nil || c.typ != "reasoning" {
		return nil
	}
	var out []protocol.Event
	if ev.SummaryIndex > c.summary {
		if c.summary >= 0 {
			out = d.delta("reasoning", protocol.DeltaThinking, "\n\n")
		}
		c.summary = ev.SummaryIndex
	}
	if ev.Type == "response.reasoning_summary_text.delta" {
		out = append(out, d.delta("reasoning", protocol.DeltaThinking, ev.Delta)...)
	}
	return out
}

// finishItem sends what the item's done event says and its deltas did
// not: the whole text or arguments of a provider that sent no deltas, a
// custom call's input, reasoning's encrypted_content.
func (d *StreamDecoder) finishItem(it *upItem) []protocol.Event {
	c := d.cur
	if c == nil || it == nil || it.Type != c.typ {
		return nil
	}
	b, _ := itemBlock(*it)
	switch {
	case c.typ == "custom_tool_call":
		input, _ := protocol.Marshal(map[string]string{CustomInput: c.customInput})
		if c.customInput == "" {
			input = b.Input
		}
		return d.delta(c.typ, protocol.DeltaInputJSON, string(input))
	case c.typ == "reasoning" && b.Signature != "":
		var out []protocol.Event
		if c.sent == 0 {
			out = d.delta(c.typ, protocol.DeltaThinking, b.Text)
		}
		out = append(out, d.begin()...)
		return append(out, protocol.Event{Type: protocol.EventDelta, Index: c.index, DeltaType: protocol.DeltaSignature, Delta: b.Signature})
	case c.sent > 0:
		return nil
	case c.typ == "message":
		return d.delta(c.typ, protocol.DeltaText, b.Text)
	case c.typ == "reasoning":
		return d.delta(c.typ, protocol.DeltaThinking, b.Text)
	case c.typ == "function_call" && it.Arguments != "":
		return d.delta(c.typ, protocol.DeltaInputJSON, it.Arguments)
	}
	return nil
}

func (d *StreamDecoder) close() []protocol.Event {
	if d.cur == nil {
		return nil
	}
	c := d.cur
	d.cur = nil
	if c.head != nil {
		return nil // never started
	}
	return []protocol.Event{{Type: protocol.EventBlockStop, Index: c.index}}
}

// Finish is called when the stream ends; a stream cut off before its
// response.completed (or incomplete, or failed) is an error.
func (d *StreamDecoder) Finish() ([]protocol.Event, error) {
	switch {
	case d.ended:
		return nil, nil
	case !d.started:
		return nil, errors.New("the stream ended before its first event")
	}
	return nil, errors.New("the stream was cut off: it ended without response.completed")
}
