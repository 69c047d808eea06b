package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelbar/modelbar/backend/protocol"
)

// StreamDecoder turns the server-sent events of an OpenAI chat completion
// stream, one raw event at a time as protocol.EventReader yields them, into
// internal events. Not safe for concurrent use; the zero value is not ready,
// use NewStreamDecoder.
//
// The first chunk yields EventStart (its id and model). Of each chunk only
// choice 0 is read. A delta's reasoning_content (or reasoning) is thinking,
// its content (and refusal) text, its tool_calls tool_use blocks; each kind
// opens a new block when the open one is of another kind, so blocks are
// opened and closed one at a time and numbered from 0. A tool call with an
// id or name for an OpenAI index not seen before (or with a new id at a
// known index: some servers number every call 0) opens a tool_use block;
// its argument fragments, and later fragments at the same index, are
// DeltaInputJSON on that block. A server that interleaves the fragments of
// parallel calls is followed: a fragment for a call whose block is already
// closed still goes to that block's Index (the internal model's one-open-
// block rule cannot hold it otherwise; OpenAI itself never interleaves).
// A tool call without an id gets "call_" and its OpenAI index.
//
// finish_reason closes the open block and is remembered (mapped as
// DecodeChatResponse maps it); usage may come in the same chunk or a later
// one with no choices; [DONE] yields EventStop with both. Chunks with
// neither choices nor usage, comments and events without data are ignored.
type StreamDecoder struct {
	started  bool
	done     bool // [DONE] or an in-band error seen: nothing more to say
	finished bool // a finish_reason seen
	open     int  // index of the open block; -1 when none is
	openType protocol.BlockType
	next     int               // index of the next block
	tools    map[int]toolBlock // OpenAI tool call index → its block
	toolUse  bool              // a tool call seen
	refusal  bool              // a refusal seen
	reason   protocol.StopReason
	sequence string
	usage    protocol.Usage
}

// toolBlock is the block a tool call of the stream went to.
type toolBlock struct {
	index int
	id    string // the call's id as the backend sent it ("" if it did not)
}

// NewStreamDecoder returns a decoder for one stream.
func NewStreamDecoder() *StreamDecoder {
	return &StreamDecoder{open: -1, tools: map[int]toolBlock{}}
}

// Decode converts one event. A chunk that is not JSON is an error; [DONE]
// yields the final EventStop; an in-band {"error":...} (or an event named
// "error") yields EventError. After either, further events are ignored.
func (d *StreamDecoder) Decode(event []byte) ([]protocol.Event, error) {
	data := bytes.TrimSpace(protocol.EventData(event))
	if d.done || len(data) == 0 {
		return nil, nil
	}
	if string(data) == "[DONE]" {
		d.done = true
		return d.stop(nil), nil
	}
	var chunk chatResponseIn
	if err := json.Unmarshal(data, &chunk); err != nil {
		return nil, fmt.Errorf("malformed chunk: %w", err)
	}
	if protocol.EventName(event) == "error" && protocol.IsNull(chunk.Error) {
		chunk.Error = json.RawMessage(data) // "event: error" with the error object as its data
	}
	if e := inbandError(chunk.Error); e != nil {
		d.done = true
		return []protocol.Event{{Type: protocol.EventError, Err: e}}, nil
	}
	if len(chunk.Choices) == 0 && chunk.Usage == nil {
		return nil, nil
	}
	evs := d.start(nil, chunk.ID, chunk.Model)
	if chunk.Usage != nil {
		d.usage = usageFrom(*chunk.Usage)
	}
	for _, c := range chunk.Choices {
		if c.Index == 0 {
			evs = d.choice(evs, c)
		}
	}
	return evs, nil
}

// Finish is called at the end of the input. After [DONE] or an error it
// has nothing to add. When a finish_reason was seen but no [DONE] (some
// compatible servers omit it), it closes the open block and yields
// EventStop. Otherwise the stream was cut off, which is an error.
func (d *StreamDecoder) Finish() ([]protocol.Event, error) {
	switch {
	case d.done:
		return nil, nil
	case d.finished:
		d.done = true
		return d.stop(nil), nil
	case !d.started:
		return nil, errors.New("the stream ended before its first chunk")
	}
	return nil, errors.New("the stream was cut off: it ended without a finish_reason or [DONE]")
}

func (d *StreamDecoder) start(evs []protocol.Event, id, model string) []protocol.Event {
	if d.started {
		return evs
	}
	d.started = true
	return append(evs, protocol.Event{Type: protocol.EventStart, ID: id, Model: model})
}

// stop ends the message. Without a finish_reason, the stop reason is
// end_turn, or tool_use when the model called tools.
func (d *StreamDecoder) stop(evs []protocol.Event) []protocol.Event {
	evs = d.closeOpen(d.start(evs, "", ""))
	if !d.finished {
		d.reason, d.sequence = stopReason(choiceIn{}, d.toolUse)
	}
	if d.refusal {
		d.reason, d.sequence = protocol.StopRefusal, ""
	}
	return append(evs, protocol.Event{Type: protocol.EventStop, StopReason: d.reason, StopSequence: d.sequence, Usage: d.usage})
}

func (d *StreamDecoder) choice(evs []protocol.Event, c choiceIn) []protocol.Event {
	if m := c.Delta; m != nil {
		evs = d.text(evs, protocol.BlockThinking, protocol.DeltaThinking, m.reasoning())
		for _, t := range contentTexts(m.Content) {
			evs = d.text(evs, protocol.BlockText, protocol.DeltaText, t)
		}
		if m.Refusal != "" {
			d.refusal = true
			evs = d.text(evs, protocol.BlockText, protocol.DeltaText, string(m.Refusal))
		}
		for k, tc := range m.ToolCalls {
			evs = d.toolCall(evs, tc, k)
		}
		if fc := m.FunctionCall; fc != nil {
			evs = d.toolCall(evs, toolCallIn{Function: *fc}, 0)
		}
	}
	if c.FinishReason != "" {
		evs = d.closeOpen(evs)
		d.finished = true
		d.reason, d.sequence = stopReason(c, d.toolUse)
	}
	return evs
}

// text adds s to the open block of type typ, opening one if needed.
func (d *StreamDecoder) text(evs []protocol.Event, typ protocol.BlockType, dt protocol.DeltaType, s string) []protocol.Event {
	if s == "" {
		return evs
	}
	if d.open < 0 || d.openType != typ {
		evs = d.openBlock(d.closeOpen(evs), &protocol.Block{Type: typ})
	}
	return append(evs, protocol.Event{Type: protocol.EventDelta, Index: d.open, DeltaType: dt, Delta: s})
}

// toolCall handles one entry of delta.tool_calls; pos is its position in
// the array, which stands in for a missing index.
func (d *StreamDecoder) toolCall(evs []protocol.Event, tc toolCallIn, pos int) []protocol.Event {
	k := pos
	if tc.Index != nil {
		k = *tc.Index
	}
	tb, known := d.tools[k]
	if !known || (tc.ID != "" && tc.ID != tb.id) {
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("call_%d", k)
		}
		evs = d.openBlock(d.closeOpen(evs), &protocol.Block{Type: protocol.BlockToolUse, ID: id, Name: string(tc.Function.Name)})
		tb = toolBlock{index: d.open, id: tc.ID}
		d.tools[k], d.toolUse = tb, true
	}
	if args := string(tc.Function.Arguments); args != "" {
		evs = append(evs, protocol.Event{Type: protocol.EventDelta, Index: tb.index, DeltaType: protocol.DeltaInputJSON, Delta: args})
	}
	return evs
}

func (d *StreamDecoder) openBlock(evs []protocol.Event, b *protocol.Block) []protocol.Event {
	d.open, d.openType = d.next, b.Type
	d.next++
	return append(evs, protocol.Event{Type: protocol.EventBlockStart, Index: d.open, Block: b})
}

func (d *StreamDecoder) closeOpen(evs []protocol.Event) []protocol.Event {
	if d.open < 0 {
		return evs
	}
	evs = append(evs, protocol.Event{Type: protocol.EventBlockStop, Index: d.open})
	d.open = -1
	return evs
}
