package protocol

import "encoding/json"

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
