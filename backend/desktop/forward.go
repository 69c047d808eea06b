package desktop

import (
	"context"

	"github.com/modelbar/modelbar/backend/events"
)

// WindowEvent is the name the window's runtime events carry the change
// feed under: the page listens with window.runtime.EventsOn(WindowEvent),
// since it cannot open GET /api/events (it calls the admin API in
// process, through the Call binding).
const WindowEvent = "modelbar:event"

// Feed is a change feed to follow: Subscribe's channel delivers the events
// published from then on and is closed when ctx ends (events.Hub's
// contract).
type Feed interface {
	Subscribe(ctx context.Context) <-chan events.Event
}

var (
	_ Feed = (*events.Hub)(nil)
	_ Feed = (*Gateway)(nil)
)

// Emit sends one named event to the window; the Wails runtime's EventsEmit
// has this shape.
type Emit func(ctx context.Context, name string, data ...any)

// Forward sends every event of feed to the window as WindowEvent, in
// order, until ctx ends or the feed closes. It blocks: run it on its own
// goroutine. A window that falls behind gets the hub's resync event, which
// makes it re-read everything.
func Forward(ctx context.Context, feed Feed, emit Emit) {
	for ev := range feed.Subscribe(ctx) {
		emit(ctx, WindowEvent, ev)
	}
}

// Subscribe follows the server's change feed once Start has returned (a
// closed channel when the server did not start, or when ctx ends first).
func (g *Gateway) Subscribe(ctx context.Context) <-chan events.Event {
	select {
	case <-g.ready:
	case <-ctx.Done():
		return closedFeed()
	}
	if g.srv == nil {
		return closedFeed()
	}
	return g.srv.Events().Subscribe(ctx)
}

func closedFeed() <-chan events.Event {
	ch := make(chan events.Event)
	close(ch)
	return ch
}
