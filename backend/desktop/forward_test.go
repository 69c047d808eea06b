package desktop

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/events"
	"github.com/modelbar/modelbar/backend/server"
)

// window records what Forward emits, as the Wails runtime would carry it.
type window struct {
	mu  sync.Mutex
	got []events.Event
}

func (w *window) emit(_ context.Context, name string, data ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if name != WindowEvent || len(data) != 1 {
		panic("emitted " + name)
	}
	w.got = append(w.got, data[0].(events.Event))
}

func (w *window) topics() []events.Topic {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []events.Topic
	for _, ev := range w.got {
		out = append(out, ev.Topic)
	}
	return out
}

// waitFor waits until the window has seen n events.
func (w *window) waitFor(t *testing.T, n int) []events.Topic {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := w.topics(); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the window saw %v, want %d events", w.topics(), n)
	return nil
}

// forward runs Forward until the test ends, and reports when it returns.
func forward(t *testing.T, feed Feed, w *window) (cancel func(), done <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ended := make(chan struct{})
	go func() { Forward(ctx, feed, w.emit); close(ended) }()
	return cancel, ended
}

func TestForward_SendsEveryEventInOrderUntilCancelled(t *testing.T) {
	hub := events.NewHub()
	var w window
	cancel, done := forward(t, hub, &w)
	for hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	hub.Publish(events.Routes, nil)
	hub.Publish(events.Models, map[string]string{"model": "m", "change": "loaded"})
	hub.Publish(events.Cooldowns, []string{})
	got := w.waitFor(t, 3)
	if want := []events.Topic{events.Routes, events.Models, events.Cooldowns}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("forwarded %v, want %v", got, want)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Forward did not return after its context ended")
	}
	if n := hub.Subscribers(); n != 0 {
		t.Errorf("%d subscriptions left", n)
	}
}

// The window follows the server the desktop app runs: a change made
// through the admin API (as the tray or a browser would) reaches it.
func TestForward_FollowsTheGatewaysServer(t *testing.T) {
	t.Setenv("MODELBAR_BACKEND", "cpu")
	t.Setenv("MODELBAR_SECRETS", "file")
	g := NewGateway()
	var w window
	forward(t, g, &w) // before Start: it waits for the server
	if err := g.Start(context.Background(), server.Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Shutdown(context.Background()) })
	// The subscription begins just after Start: change things until one
	// arrives.
	deadline := time.Now().Add(5 * time.Second)
	for len(w.topics()) == 0 && time.Now().Before(deadline) {
		if code, body := g.CallAdmin(context.Background(), "PUT", "/api/settings", []byte(`{"retry_backoff_ms":5}`)); code != 200 {
			t.Fatalf("PUT /api/settings: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := w.waitFor(t, 1); got[0] != events.Settings {
		t.Errorf("the window saw %v, want settings", got)
	}
}

func TestForward_EndsWhenTheServerDidNotStart(t *testing.T) {
	g := NewGateway()
	g.Shutdown(context.Background())
	g.Start(context.Background(), server.Options{DataDir: t.TempDir()}) // refused: shut down
	var w window
	_, done := forward(t, g, &w)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Forward waits on a server that will never run")
	}
}
