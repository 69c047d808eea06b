package events

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

func receive(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

func TestHub_DeliversInOrderToEverySubscriber(t *testing.T) {
	h := NewHub()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := h.Subscribe(ctx), h.Subscribe(ctx)
	h.Publish(Routes, nil)
	h.Publish(Requests, map[string]int{"id": 7})
	for _, ch := range []<-chan Event{a, b} {
		first, second := receive(t, ch), receive(t, ch)
		if first.Topic != Routes || first.Seq != 1 || first.Data != nil {
			t.Errorf("first = %+v, want routes seq 1 without data", first)
		}
		var data map[string]int
		if err := json.Unmarshal(second.Data, &data); err != nil || second.Topic != Requests || second.Seq != 2 || data["id"] != 7 {
			t.Errorf("second = %+v (%v), want requests seq 2 {id:7}", second, err)
		}
	}
}

func TestHub_SlowSubscriberGetsResync(t *testing.T) {
	h := NewHub()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := h.Subscribe(ctx)
	for range buffer + 10 {
		h.Publish(Requests, nil) // never blocks, though nobody reads
	}
	ev := receive(t, slow)
	if ev.Topic != Resync {
		t.Fatalf("first event after an overflow = %s, want resync", ev.Topic)
	}
	h.Publish(Models, nil)
	// The events published after the overflow follow the resync, in order.
	for n := 1; ; n++ {
		ev := receive(t, slow)
		if ev.Topic == Models {
			break
		}
		if ev.Topic != Requests || n > 9 {
			t.Fatalf("event %d after the resync: %s, want at most 9 requests then models", n, ev.Topic)
		}
	}
}

func TestHub_CancelClosesAndUnsubscribes(t *testing.T) {
	h := NewHub()
	ctx, cancel := context.WithCancel(context.Background())
	ch := h.Subscribe(ctx)
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("got an event, want the channel closed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
	if n := h.Subscribers(); n != 0 {
		t.Errorf("Subscribers = %d after cancel, want 0", n)
	}
	h.Publish(Routes, nil) // no subscriber: no panic on a closed channel
}

func TestHub_NilIsANoOp(t *testing.T) {
	var h *Hub
	h.Publish(Routes, nil)
	if _, ok := <-h.Subscribe(context.Background()); ok {
		t.Error("a nil hub's subscription delivered an event")
	}
}
