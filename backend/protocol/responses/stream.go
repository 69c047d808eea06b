package responses

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// StreamEncoder turns internal events into the Responses API's stream:
// response.created and response.in_progress, then for each block an
// output item (output_item.added, its parts and deltas, output_item.done),
// and response.completed, response.incomplete (the output limit was hit)
// or response.failed (an error event), each with its sequence_number.
// Thinking becomes a reasoning item whose summary is the thinking text;
// tool calls become function_call items, or custom_tool_call items for
// custom tools (whose input is sent whole when the call is complete: it
// is a string inside the backend's JSON arguments). The zero value is not
// ready: use NewStreamEncoder. Not safe for concurrent use.
type StreamEncoder struct {
	names   Names
	resp    response
	seq     int
	started bool
	cur     *openItem
}

// openItem is the output item of the block being streamed.
type openItem struct {
	item     item
	block    protocol.Block // accumulated text, input and signature
	partOpen bool
}

// NewStreamEncoder returns an encoder for the answer to req.
func NewStreamEncoder(req protocol.Request, created int64) *StreamEncoder {
	return &StreamEncoder{names: namesOf(req), resp: newResponse(req, created)}
}

// Encode returns the SSE events for ev.
func (e *StreamEncoder) Encode(ev protocol.Event) []byte {
	var out []byte
	if !e.started && ev.Type != protocol.EventStart {
		out = e.Encode(protocol.Event{Type: protocol.EventStart})
	}
	switch ev.Type {
	case protocol.EventStart:
		if e.started {
			return nil
		}
		e.started = true
		if ev.ID != "" && e.names.ResponseID == "" {
			e.resp.ID = responseID(ev.ID)
		}
		if ev.Model != "" {
			e.resp.Model = ev.Model
		}
		out = append(out, e.event("response.created", map[string]any{"response": e.resp})...)
		out = append(out, e.event("response.in_progress", map[string]any{"response": e.resp})...)
	case protocol.EventBlockStart:
		out = append(out, e.closeItem()...)
		if ev.Block != nil {
			out = append(out, e.openItem(ev.Index, *ev.Block)...)
		}
	case protocol.EventDelta:
		out = append(out, e.delta(ev)...)
	case protocol.EventBlockStop:
		out = append(out, e.closeItem()...)
	case protocol.EventStop:
		out = append(out, e.closeItem()...)
		e.resp.Usage = usageOf(ev.Usage)
		name := "response.completed"
		e.resp.Status = "completed"
		if ev.StopReason == protocol.StopMaxTokens {
			name, e.resp.Status = "response.incomplete", "incomplete"
			e.resp.IncompleteDetails = &incomplete{Reason: "max_output_tokens"}
		}
		out = append(out, e.event(name, map[string]any{"response": e.resp})...)
	case protocol.EventError:
		out = append(out, e.closeItem()...)
		e.resp.Status = "failed"
		code, msg := "server_error", "the backend failed"
		if ev.Err != nil {
			code, msg = ev.Err.Type, ev.Err.Message
		}
		e.resp.Error = &respError{Code: code, Type: code, Message: msg}
		out = append(out, e.event("response.failed", map[string]any{"response": e.resp})...)
	}
	return out
}

// Response is the response object as the stream has built it so far: the
// whole answer once the stream has ended.
func (e *StreamEncoder) Response() any { return e.resp }

func (e *StreamEncoder) event(name string, fields map[string]any) []byte {
	fields["type"] = name
	fields["sequence_number"] = e.seq
	e.seq++
	data, err := protocol.Marshal(fields)
	if err != nil {
		data, _ = protocol.Marshal(map[string]any{"type": "error", "message": err.Error(), "sequence_number": e.seq - 1})
	}
	return sse(name, data)
}

func (e *StreamEncoder) itemEvent(name string, fields map[string]any) []byte {
	fields["item_id"] = e.cur.item.ID
	fields["output_index"] = len(e.resp.Output)
	return e.event(name, fields)
}

func (e *StreamEncoder) openItem(index int, b protocol.Block) []byte {
	suffix := fmt.Sprintf("%s_%d", strings.TrimPrefix(e.resp.ID, "resp_"), index)
	it := item{Status: "in_progress"}
	switch b.Type {
	case protocol.BlockText:
		it.Type, it.ID, it.Role, it.Content = "message", "msg_"+suffix, "assistant", &[]part{}
	case protocol.BlockThinking, protocol.BlockRedactedThinking:
		it.Type, it.ID, it.Summary, it.Status = "reasoning", "rs_"+suffix, &[]part{}, ""
	case protocol.BlockToolUse:
		name := e.names.clientName(b.Name)
		it.CallID, it.Name, it.Namespace = b.ID, name.Name, name.Namespace
		if name.Custom {
			it.Type, it.ID, it.Input = "custom_tool_call", "ctc_"+suffix, new(string)
		} else {
			it.Type, it.ID, it.Arguments = "function_call", "fc_"+suffix, new(string)
		}
	default:
		return nil
	}
	e.cur = &openItem{item: it, block: b}
	out := e.itemEvent("response.output_item.added", map[string]any{"item": it})
	if b.Type == protocol.BlockText {
		e.cur.partOpen = true
		out = append(out, e.itemEvent("response.content_part.added", map[string]any{"content_index": 0, "part": textPart("")})...)
	}
	return out
}

func (e *StreamEncoder) delta(ev protocol.Event) []byte {
	c := e.cur
	if c == nil || ev.Delta == "" {
		return nil
	}
	switch {
	case ev.DeltaType == protocol.DeltaText && c.item.Type == "message":
		c.block.Text += ev.Delta
		return e.itemEvent("response.output_text.delta", map[string]any{"content_index": 0, "delta": ev.Delta, "logprobs": []any{}})
	case ev.DeltaType == protocol.DeltaThinking && c.item.Type == "reasoning":
		var out []byte
		if !c.partOpen {
			c.partOpen = true
			out = e.itemEvent("response.reasoning_summary_part.added", map[string]any{"summary_index": 0, "part": summaryPart("")})
		}
		c.block.Text += ev.Delta
		return append(out, e.itemEvent("response.reasoning_summary_text.delta", map[string]any{"summary_index": 0, "delta": ev.Delta})...)
	case ev.DeltaType == protocol.DeltaSignature:
		c.block.Signature += ev.Delta
	case ev.DeltaType == protocol.DeltaInputJSON && c.item.Type == "function_call":
		c.block.Input = append(c.block.Input, ev.Delta...)
		return e.itemEvent("response.function_call_arguments.delta", map[string]any{"delta": ev.Delta})
	case ev.DeltaType == protocol.DeltaInputJSON:
		c.block.Input = append(c.block.Input, ev.Delta...)
	}
	return nil
}

// closeItem finishes the open item, if any: its done events, and the item
// joins the response's output.
func (e *StreamEncoder) closeItem() []byte {
	c := e.cur
	if c == nil {
		return nil
	}
	var out []byte
	it := c.item
	switch it.Type {
	case "message":
		it.Status = "completed"
		it.Content = &[]part{textPart(c.block.Text)}
		out = append(out, e.itemEvent("response.output_text.done", map[string]any{"content_index": 0, "text": c.block.Text, "logprobs": []any{}})...)
		out = append(out, e.itemEvent("response.content_part.done", map[string]any{"content_index": 0, "part": textPart(c.block.Text)})...)
	case "reasoning":
		if c.partOpen {
			out = append(out, e.itemEvent("response.reasoning_summary_text.done", map[string]any{"summary_index": 0, "text": c.block.Text})...)
			out = append(out, e.itemEvent("response.reasoning_summary_part.done", map[string]any{"summary_index": 0, "part": summaryPart(c.block.Text)})...)
			it.Summary = &[]part{summaryPart(c.block.Text)}
		}
		if e.names.Encrypted {
			if s := sealThinking(c.block); s != "" {
				it.EncryptedContent = &s
			}
		}
	case "function_call":
		args := string(c.block.Input)
		if args == "" {
			args = "{}" // no arguments: the delta the backend did not send
			out = append(out, e.itemEvent("response.function_call_arguments.delta", map[string]any{"delta": args})...)
		}
		it.Status, it.Arguments = "completed", &args
		out = append(out, e.itemEvent("response.function_call_arguments.done", map[string]any{"arguments": args, "name": it.Name})...)
	case "custom_tool_call":
		input := customInput(c.block.Input)
		it.Status, it.Input = "completed", &input
		if input != "" {
			out = append(out, e.itemEvent("response.custom_tool_call_input.delta", map[string]any{"delta": input})...)
		}
		out = append(out, e.itemEvent("response.custom_tool_call_input.done", map[string]any{"input": input})...)
	}
	out = append(out, e.itemEvent("response.output_item.done", map[string]any{"item": it})...)
	e.resp.Output = append(e.resp.Output, it)
	e.cur = nil
	return out
}

// customInput is the free-form input of a custom tool's call: the string
// argument, or the arguments as they are when the model sent another shape.
func customInput(args json.RawMessage) string {
	var v map[string]json.RawMessage
	if json.Unmarshal(args, &v) == nil {
		var s string
		if json.Unmarshal(v[CustomInput], &s) == nil {
			return s
		}
		if len(v) == 1 {
			for _, raw := range v {
				if json.Unmarshal(raw, &s) == nil {
					return s
				}
			}
		}
	}
	return string(args)
}

// EncodeResponse is the Response object for r, the answer to req.
func EncodeResponse(req protocol.Request, r protocol.Response) ([]byte, error) {
	e := NewStreamEncoder(req, r.Created)
	for _, ev := range protocol.ResponseEvents(r) {
		e.Encode(ev)
	}
	return protocol.Marshal(e.resp)
}
