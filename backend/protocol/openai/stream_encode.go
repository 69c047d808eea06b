package openai

import (
	"time"

	"github.com/modelbar/modelbar/backend/protocol"
)

// StreamEncoder turns internal events into the server-sent events of an
// OpenAI chat completion stream: "data: {chat.completion.chunk}\n\n" events
// ending with "data: [DONE]\n\n" after EventStop. Not safe for concurrent
// use; the zero value is not ready, use NewStreamEncoder.
//
// EventStart sends the first chunk, delta {"role":"assistant","content":""}
// (an event before it sends that chunk first, with no id or model). Text
// deltas are delta.content, thinking deltas delta.reasoning_content (the
// extension DeepSeek-aware clients read); a text or thinking block after an
// earlier one of its kind starts with a blank line, as EncodeChatResponse
// joins them. A tool_use block start is a delta.tool_calls entry with the
// call's index (counting tool calls from 0), id, type and name and
// arguments ""; its input_json deltas are entries with that index and an
// arguments fragment ("{}" at the block's end if there were none).
// Content a producer put in a block start's Block (text, a tool's Input)
// is sent as the block's first delta.
// Signature deltas and redacted_thinking are dropped:
// they mean nothing to OpenAI clients. EventStop is a chunk with an empty
// delta and the finish_reason; then, if the client asked, a chunk with no
// choices and the usage; then [DONE]. EventError is ErrorEvent (no [DONE]).
// Nothing is sent after EventStop or EventError.
type StreamEncoder struct {
	includeUsage bool
	created      int64
	id, model    string
	started      bool
	ended        bool
	tools        map[int]*toolCallState // by block index
	calls        int                    // tool calls so far
	text         textState
	thinking     textState
}

// toolCallState is a tool_use block sent as an OpenAI tool call.
type toolCallState struct {
	index int  // OpenAI's index of the call
	args  bool // some arguments were sent
}

// textState tracks one kind of text (content or reasoning), which OpenAI
// carries as a single string however many blocks it came in.
type textState struct {
	wrote bool // some text of this kind has been sent
	sep   bool // the open block must start with a blank line
}

// NewStreamEncoder returns an encoder for one stream. includeUsage: the
// client asked for the usage chunk (stream_options.include_usage). created
// is the chunks' "created" time; 0 means now.
func NewStreamEncoder(includeUsage bool, created int64) *StreamEncoder {
	if created == 0 {
		created = time.Now().Unix()
	}
	return &StreamEncoder{includeUsage: includeUsage, created: created, tools: map[int]*toolCallState{}}
}

// Encode converts one event into zero or more whole SSE events.
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
		out = e.start(ev)
	}
	switch ev.Type {
	case protocol.EventBlockStart:
		out = append(out, e.blockStart(ev)...)
	case protocol.EventDelta:
		out = append(out, e.delta(ev)...)
	case protocol.EventBlockStop:
		out = append(out, e.blockStop(ev)...)
	case protocol.EventStop:
		out = append(out, e.stop(ev)...)
	}
	return out
}

func errorEvent(se *protocol.StreamError) []byte {
	typ, msg := "server_error", "the stream failed"
	if se != nil && se.Type != "" {
		typ = se.Type
	}
	if se != nil && se.Message != "" {
		msg = se.Message
	}
	return ErrorEvent(typ, msg)
}

func (e *StreamEncoder) start(ev protocol.Event) []byte {
	e.started = true
	if ev.Type == protocol.EventStart {
		e.id, e.model = ev.ID, ev.Model
	}
	return e.chunk(deltaOut{Role: "assistant", Content: new("")}, nil)
}

// blockStart opens a block. Content a producer put in the Block itself
// (the contract says it does not) is sent as the block's first delta.
func (e *StreamEncoder) blockStart(ev protocol.Event) []byte {
	b := ev.Block
	if b == nil {
		return nil
	}
	first := protocol.Event{Type: protocol.EventDelta, Index: ev.Index, Delta: b.Text}
	var out []byte
	switch b.Type {
	case protocol.BlockText:
		e.text.sep, first.DeltaType = e.text.wrote, protocol.DeltaText
	case protocol.BlockThinking:
		e.thinking.sep, first.DeltaType = e.thinking.wrote, protocol.DeltaThinking
	case protocol.BlockToolUse:
		n := e.calls
		e.calls++
		e.tools[ev.Index] = &toolCallState{index: n}
		call := toolCallOut{Index: &n, ID: b.ID, Type: "function", Function: functionOut{Name: b.Name}}
		out = e.chunk(deltaOut{ToolCalls: []toolCallOut{call}}, nil)
		if !protocol.IsNull(b.Input) {
			if input := argumentsText(b.Input); input != "{}" {
				first.DeltaType, first.Delta = protocol.DeltaInputJSON, input
			}
		}
	}
	return append(out, e.delta(first)...)
}

func (e *StreamEncoder) delta(ev protocol.Event) []byte {
	if ev.Delta == "" {
		return nil
	}
	switch ev.DeltaType {
	case protocol.DeltaText:
		return e.chunk(deltaOut{Content: new(e.text.next(ev.Delta))}, nil)
	case protocol.DeltaThinking:
		return e.chunk(deltaOut{ReasoningContent: e.thinking.next(ev.Delta)}, nil)
	case protocol.DeltaInputJSON:
		return e.arguments(ev.Index, ev.Delta)
	}
	return nil
}

// arguments sends a fragment of the arguments of the tool call of block i.
func (e *StreamEncoder) arguments(i int, fragment string) []byte {
	tc, ok := e.tools[i]
	if !ok {
		return nil
	}
	tc.args = true
	call := toolCallOut{Index: &tc.index, Function: functionOut{Arguments: fragment}}
	return e.chunk(deltaOut{ToolCalls: []toolCallOut{call}}, nil)
}

// blockStop gives a tool call that got no arguments "{}": an Anthropic
// backend streams no input for a tool without parameters, and OpenAI
// clients parse the arguments as JSON, which "" is not.
func (e *StreamEncoder) blockStop(ev protocol.Event) []byte {
	if tc, ok := e.tools[ev.Index]; ok && !tc.args {
		return e.arguments(ev.Index, "{}")
	}
	return nil
}

// next is the text to send for delta s.
func (t *textState) next(s string) string {
	if t.sep {
		s = "\n\n" + s
		t.sep = false
	}
	t.wrote = true
	return s
}

func (e *StreamEncoder) stop(ev protocol.Event) []byte {
	e.ended = true
	out := e.chunk(deltaOut{}, new(finishReason(ev.StopReason)))
	if e.includeUsage {
		u := usageOut(ev.Usage)
		out = append(out, sse(chunkOut{ID: e.id, Object: "chat.completion.chunk", Created: e.created,
			Model: e.model, Choices: []chunkChoiceOut{}, Usage: &u})...)
	}
	return append(out, "data: [DONE]\n\n"...)
}

func (e *StreamEncoder) chunk(d deltaOut, finish *string) []byte {
	return sse(chunkOut{ID: e.id, Object: "chat.completion.chunk", Created: e.created, Model: e.model,
		Choices: []chunkChoiceOut{{Delta: d, FinishReason: finish}}})
}

// sse frames v as one server-sent event.
func sse(v any) []byte {
	b, err := protocol.Marshal(v)
	if err != nil { // only strings and numbers: cannot happen
		return ErrorEvent("server_error", "encode chunk: "+err.Error())
	}
	out := make([]byte, 0, len(b)+8)
	out = append(out, "data: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}
