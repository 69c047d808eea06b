package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelbar/modelbar/backend/protocol"
)

// ErrStreamCut is what StreamDecoder.Finish reports when the stream ended
// before message_stop (or an error event): the answer is incomplete.
var ErrStreamCut = errors.New("the Anthropic stream ended before message_stop: the answer is incomplete")

// StreamDecoder turns the server-sent events of a Messages stream, one raw
// event at a time as protocol.EventReader yields them, into internal
// events. Not safe for concurrent use; the zero value is ready
// (NewStreamDecoder is for symmetry with the other protocols).
//
// The events it returns are always well formed, whatever it is fed:
// EventStart first, then blocks opened, filled and closed one at a time
// with indices contiguous from 0, then EventStop or EventError, and nothing
// after that. What the backend sends and how it is read:
//   - message_start: EventStart with id, model and the usage so far.
//   - content_block_start: EventBlockStart for text, thinking,
//     redacted_thinking (its data in Block.Signature) and tool_use (ID and
//     Name). Text, thinking or a signature already in the start event
//     follows as an EventDelta, as does a tool input other than {}.
//     Server-tool blocks (server_tool_use, web_search_tool_result, ...) and
//     unknown block types are skipped with their deltas and stop, and the
//     blocks after them renumbered so that indices stay contiguous.
//   - content_block_delta: text_delta, thinking_delta, signature_delta and
//     input_json_delta become EventDelta; citations_delta and unknown
//     deltas are ignored. A delta that does not fit its block's type is an
//     error.
//   - content_block_stop: EventBlockStop. A block started before the open
//     one stopped closes the open one (the API never interleaves blocks);
//     its late stop is then ignored.
//   - message_delta: stop_reason, stop_sequence and usage are kept for
//     EventStop. Usage counts are cumulative; every count present (newer
//     API versions repeat input and cache counts here) replaces the one from
//     message_start.
//   - message_stop: EventStop, after closing a block left open.
//   - error: EventError with the backend's error type and message.
//   - ping, events without data and unknown event types: nothing.
//
// Malformed JSON, block events before message_start, a second
// message_start, and deltas or stops for blocks never started are errors;
// after an error Decode returns the same error again. Events after
// message_stop or an error event are ignored.
type StreamDecoder struct {
	started, ended bool
	err            error // sticky: the first decoding error
	usage          protocol.Usage
	stopReason     protocol.StopReason
	stopSequence   string
	blocks         map[int]*upstreamBlock // by the backend's index
	open           *upstreamBlock         // the block open now, if any
	next           int                    // the next internal index
}

// upstreamBlock is one content block of the backend's stream.
type upstreamBlock struct {
	skip  bool // a block modelbar does not carry
	index int  // internal index
	typ   protocol.BlockType
	open  bool
}

// NewStreamDecoder returns a decoder for one stream.
func NewStreamDecoder() *StreamDecoder { return &StreamDecoder{} }

// Decode converts one raw server-sent event.
func (d *StreamDecoder) Decode(event []byte) ([]protocol.Event, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.ended {
		return nil, nil
	}
	evs, err := d.decode(event)
	if err != nil {
		d.err = err
	}
	return evs, err
}

// Finish is called at the end of the input. It returns nothing when
// message_stop or an error event was seen, the decoding error if there was
// one, and ErrStreamCut otherwise.
func (d *StreamDecoder) Finish() ([]protocol.Event, error) {
	switch {
	case d.err != nil:
		return nil, d.err
	case d.ended:
		return nil, nil
	}
	return nil, ErrStreamCut
}

// streamEvent is any event of a Messages stream, as read; each type uses
// some of its members.
type streamEvent struct {
	Type         string          `json:"type"`
	Message      *inResponse     `json:"message"`
	Index        *int            `json:"index"`
	ContentBlock json.RawMessage `json:"content_block"`
	Delta        *streamDelta    `json:"delta"`
	Usage        *inUsage        `json:"usage"`
	Error        *inError        `json:"error"`
}

// streamDelta is the delta of content_block_delta or message_delta.
type streamDelta struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	Thinking     string  `json:"thinking"`
	Signature    string  `json:"signature"`
	PartialJSON  string  `json:"partial_json"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// known are the event types read in full; others are skipped unread, so
// that a new event type of any shape cannot break a stream.
var known = map[string]bool{
	"message_start": true, "content_block_start": true, "content_block_delta": true,
	"content_block_stop": true, "message_delta": true, "message_stop": true, "error": true,
}

func (d *StreamDecoder) decode(event []byte) ([]protocol.Event, error) {
	data := protocol.EventData(event)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("malformed %q event: %w", protocol.EventName(event), err)
	}
	if head.Type == "" {
		head.Type = protocol.EventName(event)
	}
	if !known[head.Type] {
		return nil, nil // ping, and types newer than this package
	}
	var ev streamEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, fmt.Errorf("malformed %s event: %w", head.Type, err)
	}
	ev.Type = head.Type
	return d.dispatch(ev)
}

func (d *StreamDecoder) dispatch(ev streamEvent) ([]protocol.Event, error) {
	switch {
	case ev.Type == "error":
		return d.fail(ev.Error), nil
	case ev.Type == "message_start":
		return d.start(ev)
	case !d.started:
		return nil, fmt.Errorf("%s before message_start", ev.Type)
	}
	switch ev.Type {
	case "content_block_start":
		return d.blockStart(ev)
	case "content_block_delta":
		return d.delta(ev)
	case "content_block_stop":
		return d.blockStop(ev)
	case "message_delta":
		d.messageDelta(ev)
		return nil, nil
	}
	return d.stop(), nil // message_stop
}

func (d *StreamDecoder) fail(e *inError) []protocol.Event {
	d.ended = true
	se := &protocol.StreamError{Type: "api_error", Message: "the backend reported an error without saying which"}
	if e != nil && e.Type != "" {
		se.Type = e.Type
	}
	if e != nil && e.Message != "" {
		se.Message = e.Message
	}
	return []protocol.Event{{Type: protocol.EventError, Err: se}}
}

func (d *StreamDecoder) start(ev streamEvent) ([]protocol.Event, error) {
	switch {
	case d.started:
		return nil, errors.New("a second message_start")
	case ev.Message == nil:
		return nil, errors.New("message_start without a message")
	}
	d.started = true
	ev.Message.Usage.addTo(&d.usage)
	return []protocol.Event{{Type: protocol.EventStart, ID: ev.Message.ID, Model: ev.Message.Model, Usage: d.usage}}, nil
}

func (d *StreamDecoder) messageDelta(ev streamEvent) {
	if ev.Delta != nil {
		if ev.Delta.StopReason != nil {
			d.stopReason = protocol.StopReason(*ev.Delta.StopReason)
		}
		if ev.Delta.StopSequence != nil {
			d.stopSequence = *ev.Delta.StopSequence
		}
	}
	ev.Usage.addTo(&d.usage)
}

func (d *StreamDecoder) stop() []protocol.Event {
	evs := d.closeOpen()
	d.ended = true
	return append(evs, protocol.Event{Type: protocol.EventStop, StopReason: d.stopReason, StopSequence: d.stopSequence, Usage: d.usage})
}

// closeOpen closes the open block, if there is one.
func (d *StreamDecoder) closeOpen() []protocol.Event {
	if d.open == nil {
		return nil
	}
	d.open.open = false
	ev := protocol.Event{Type: protocol.EventBlockStop, Index: d.open.index}
	d.open = nil
	return []protocol.Event{ev}
}

func (d *StreamDecoder) blockStart(ev streamEvent) ([]protocol.Event, error) {
	if ev.Index == nil {
		return nil, errors.New("content_block_start without an index")
	}
	if d.blocks[*ev.Index] != nil {
		return nil, fmt.Errorf("content block %d started twice", *ev.Index)
	}
	b, ok, err := readOutputBlock(ev.ContentBlock)
	if err != nil {
		return nil, fmt.Errorf("content_block_start %d: %w", *ev.Index, err)
	}
	if d.blocks == nil {
		d.blocks = map[int]*upstreamBlock{}
	}
	if !ok {
		d.blocks[*ev.Index] = &upstreamBlock{skip: true}
		return nil, nil
	}
	evs := d.closeOpen()
	up := &upstreamBlock{index: d.next, typ: b.Type, open: true}
	d.blocks[*ev.Index], d.open = up, up
	d.next++
	head := protocol.Block{Type: b.Type, ID: b.ID, Name: b.Name}
	if b.Type == protocol.BlockRedactedThinking {
		head.Signature = b.Signature
	}
	evs = append(evs, protocol.Event{Type: protocol.EventBlockStart, Index: up.index, Block: &head})
	return append(evs, initialDeltas(up.index, b)...), nil
}

// initialDeltas carries the content a content_block_start may already hold.
func initialDeltas(index int, b protocol.Block) []protocol.Event {
	var evs []protocol.Event
	add := func(t protocol.DeltaType, s string) {
		if s != "" {
			evs = append(evs, protocol.Event{Type: protocol.EventDelta, Index: index, DeltaType: t, Delta: s})
		}
	}
	switch b.Type {
	case protocol.BlockText:
		add(protocol.DeltaText, b.Text)
	case protocol.BlockThinking:
		add(protocol.DeltaThinking, b.Text)
		add(protocol.DeltaSignature, b.Signature)
	case protocol.BlockToolUse:
		if string(b.Input) != "{}" {
			add(protocol.DeltaInputJSON, string(b.Input))
		}
	}
	return evs
}

// deltaKinds maps the API's delta types to the internal delta type and the
// block type it belongs to.
var deltaKinds = map[string]struct {
	delta protocol.DeltaType
	block protocol.BlockType
}{
	"text_delta":       {protocol.DeltaText, protocol.BlockText},
	"thinking_delta":   {protocol.DeltaThinking, protocol.BlockThinking},
	"signature_delta":  {protocol.DeltaSignature, protocol.BlockThinking},
	"input_json_delta": {protocol.DeltaInputJSON, protocol.BlockToolUse},
}

func (d *StreamDecoder) delta(ev streamEvent) ([]protocol.Event, error) {
	up, err := d.block("content_block_delta", ev.Index)
	if err != nil || up.skip {
		return nil, err
	}
	if !up.open {
		return nil, fmt.Errorf("content_block_delta for block %d after it stopped", *ev.Index)
	}
	if ev.Delta == nil {
		return nil, fmt.Errorf("content_block_delta for block %d without a delta", *ev.Index)
	}
	kind, ok := deltaKinds[ev.Delta.Type]
	if !ok {
		return nil, nil // citations_delta, and types newer than this package
	}
	if kind.block != up.typ {
		return nil, fmt.Errorf("%s for %s block %d", ev.Delta.Type, up.typ, *ev.Index)
	}
	text := map[protocol.DeltaType]string{
		protocol.DeltaText: ev.Delta.Text, protocol.DeltaThinking: ev.Delta.Thinking,
		protocol.DeltaSignature: ev.Delta.Signature, protocol.DeltaInputJSON: ev.Delta.PartialJSON,
	}[kind.delta]
	return []protocol.Event{{Type: protocol.EventDelta, Index: up.index, DeltaType: kind.delta, Delta: text}}, nil
}

func (d *StreamDecoder) blockStop(ev streamEvent) ([]protocol.Event, error) {
	up, err := d.block("content_block_stop", ev.Index)
	if err != nil || up.skip || !up.open {
		return nil, err // a skipped block, or one closed already
	}
	return d.closeOpen(), nil
}

// block finds the block an event names.
func (d *StreamDecoder) block(typ string, index *int) (*upstreamBlock, error) {
	if index == nil {
		return nil, fmt.Errorf("%s without an index", typ)
	}
	up := d.blocks[*index]
	if up == nil {
		return nil, fmt.Errorf("%s for block %d, which was never started", typ, *index)
	}
	return up, nil
}
