// Package events is modelbar's change feed: services publish what changed
// (a route, a provider, a loaded model, a cooldown, a finished request) and
// every view — the window and a browser through GET /api/events, the
// menu-bar menu in process — subscribes instead of polling. An event names
// what changed and may carry a small payload; a subscriber re-reads the
// admin API for the full state, so a lost event costs a refresh, never a
// wrong view.
package events

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Topic names what changed.
type Topic string

// The topics modelbar publishes.
const (
	Routes        Topic = "routes"        // a route added, changed, reordered or deleted
	Providers     Topic = "providers"     // a provider added, changed or deleted (keys included, never their values)
	Settings      Topic = "settings"      // a setting changed
	Models        Topic = "models"        // a local model found, loading, loaded, unloaded, pinned or removed
	Cooldowns     Topic = "cooldowns"     // a provider or model started or ended a cooldown
	Requests      Topic = "requests"      // an inference request finished (Data: its log entry)
	Attempts      Topic = "attempts"      // a backend of a request in flight failed and the next try is known (Data: an attempt)
	Downloads     Topic = "downloads"     // a model download progressed, finished or failed
	Conversations Topic = "conversations" // a chat conversation saved, renamed or deleted
	InFlight      Topic = "inflight"      // a backend started or stopped serving requests (Data: {"backend","in_flight"})

	// Resync tells a subscriber that it fell behind and events were
	// dropped: it should re-read everything it shows.
	Resync Topic = "resync"
)

// Topics are the topics a subscriber may ask for, in a stable order.
var Topics = []Topic{Routes, Providers, Settings, Models, Cooldowns, Requests, Attempts, Downloads, Conversations, InFlight}

// Event is one change.
type Event struct {
	Seq   uint64          `json:"seq"` // ascending per Hub, from 1
	Topic Topic           `json:"topic"`
	Time  time.Time       `json:"time"`
	Data  json.RawMessage `json:"data,omitempty"` // the topic's payload, if any
}

// buffer is how many events a subscriber may have unread before it is sent
// Resync instead of the backlog.
const buffer = 256

// Hub fans events out to subscribers. Publish never blocks: a subscriber
// that does not keep up loses its backlog and gets one Resync event. The
// zero value is not ready; use NewHub. A nil *Hub accepts Publish and
// drops the event, so services work without a feed (tests, tools).
type Hub struct {
	mu   sync.Mutex          // guards the fields below
	seq  uint64              // the last event's Seq
	subs map[chan Event]bool // each subscriber's channel
	now  func() time.Time
}

// NewHub returns a hub with no subscribers.
func NewHub() *Hub {
	return &Hub{subs: map[chan Event]bool{}, now: time.Now}
}

// Publish sends topic with data (marshalled to JSON; nil for none) to
// every subscriber. Safe for concurrent use; never blocks.
func (h *Hub) Publish(topic Topic, data any) {
	if h == nil {
		return
	}
	var raw json.RawMessage
	if data != nil {
		b, err := json.Marshal(data)
		if err == nil {
			raw = b
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	ev := Event{Seq: h.seq, Topic: topic, Time: h.now().UTC(), Data: raw}
	for ch := range h.subs {
		h.deliver(ch, ev)
	}
}

// deliver sends ev to ch, or, when ch is full, empties it and leaves one
// Resync event in its place. Called with mu held, so no other publisher
// races the draining.
func (h *Hub) deliver(ch chan Event, ev Event) {
	select {
	case ch <- ev:
		return
	default:
	}
	for {
		select {
		case <-ch:
			continue
		default:
		}
		break
	}
	ch <- Event{Seq: ev.Seq, Topic: Resync, Time: ev.Time}
}

// Subscribe returns a channel of the events published from now on; it is
// closed when ctx ends. The caller must keep reading it until then.
func (h *Hub) Subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, buffer)
	if h == nil {
		close(ch)
		return ch
	}
	h.mu.Lock()
	h.subs[ch] = true
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		delete(h.subs, ch)
		close(ch)
		h.mu.Unlock()
	}()
	return ch
}

// Subscribers reports how many subscriptions are open.
func (h *Hub) Subscribers() int {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
