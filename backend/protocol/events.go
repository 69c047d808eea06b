package protocol

import (
	"encoding/json"
	"fmt"
)

// ResponseEvents is the stream of events that carries r: what a streaming
// client is sent when a backend answered in one piece.
func ResponseEvents(r Response) []Event {
	start := r.Usage
	start.OutputTokens = 0
	evs := []Event{{Type: EventStart, ID: r.ID, Model: r.Model, Usage: start}}
	for i, b := range r.Content {
		head := Block{Type: b.Type, ID: b.ID, Name: b.Name}
		if b.Type == BlockRedactedThinking {
			head.Signature = b.Signature
		}
		evs = append(evs, Event{Type: EventBlockStart, Index: i, Block: &head})
		evs = append(evs, blockDeltas(i, b)...)
		evs = append(evs, Event{Type: EventBlockStop, Index: i})
	}
	return append(evs, Event{Type: EventStop, StopReason: r.StopReason, StopSequence: r.StopSequence, Usage: r.Usage})
}

func blockDeltas(i int, b Block) []Event {
	delta := func(t DeltaType, s string) Event { return Event{Type: EventDelta, Index: i, DeltaType: t, Delta: s} }
	var evs []Event
	switch b.Type {
	case BlockText:
		if b.Text != "" {
			evs = append(evs, delta(DeltaText, b.Text))
		}
	case BlockThinking:
		if b.Text != "" {
			evs = append(evs, delta(DeltaThinking, b.Text))
		}
		if b.Signature != "" {
			evs = append(evs, delta(DeltaSignature, b.Signature))
		}
	case BlockToolUse:
		input := b.Input
		if len(input) == 0 {
			input = json.RawMessage("{}")
		}
		evs = append(evs, delta(DeltaInputJSON, string(input)))
	}
	return evs
}

// Aggregate collects a stream of events into the Response it carries:
// what a non-streaming client is sent when a backend streams. Tool inputs
// are the concatenation of their fragments. It is the inverse of
// ResponseEvents.
func Aggregate(events []Event) (Response, error) {
	var r Response
	open := map[int]*Block{}
	var order []int
	for _, ev := range events {
		switch ev.Type {
		case EventStart:
			r.ID, r.Model, r.Usage = ev.ID, ev.Model, ev.Usage
		case EventBlockStart:
			if ev.Block == nil {
				continue
			}
			b := *ev.Block
			open[ev.Index] = &b
			order = append(order, ev.Index)
		case EventDelta:
			if b := open[ev.Index]; b != nil {
				appendDelta(b, ev)
			}
		case EventStop:
			r.StopReason, r.StopSequence, r.Usage = ev.StopReason, ev.StopSequence, ev.Usage
		case EventError:
			return r, fmt.Errorf("%s: %s", ev.Err.Type, ev.Err.Message)
		}
	}
	for _, i := range order {
		b := *open[i]
		if b.Type == BlockToolUse && len(b.Input) == 0 {
			b.Input = json.RawMessage("{}")
		}
		r.Content = append(r.Content, b)
	}
	return r, nil
}

func appendDelta(b *Block, ev Event) {
	switch ev.DeltaType {
	case DeltaText, DeltaThinking:
		b.Text += ev.Delta
	case DeltaInputJSON:
		b.Input = append(b.Input, ev.Delta...)
	case DeltaSignature:
		b.Signature += ev.Delta
	}
}
