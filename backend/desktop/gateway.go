package desktop

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/modelbar/modelbar/backend/server"
)

// Gateway is the desktop app's server (the same one `modelbar serve`
// runs). The app starts it only once the GUI toolkit has settled that this
// is the one running instance (a second launch hands over to the first
// and exits before serving anything), while the window and the tray
// already exist: until Start returns, CallAdmin waits, and after a failed
// Start it answers 503 with the reason. Safe for concurrent use; the zero
// value is not ready, use NewGateway.
type Gateway struct {
	ready chan struct{} // closed when Start has returned

	mu      sync.Mutex // guards started and closed
	started bool
	closed  bool

	srv *server.Server // set before ready closes; nil if Start failed
	err error          // why Start failed
}

// ErrClosed is Start's error after Shutdown.
var ErrClosed = errors.New("modelbar is shutting down")

// NewGateway is a gateway not yet started.
func NewGateway() *Gateway { return &Gateway{ready: make(chan struct{})} }

// Start starts the server; only the first call does anything.
func (g *Gateway) Start(ctx context.Context, opts server.Options) error {
	g.mu.Lock()
	if g.started {
		g.mu.Unlock()
		<-g.ready
		return g.err
	}
	g.started = true
	closed := g.closed
	g.mu.Unlock()
	defer close(g.ready)
	if closed {
		g.err = ErrClosed
		return g.err
	}
	g.srv, g.err = server.Start(ctx, opts)
	return g.err
}

// CallAdmin is (*server.Server).CallAdmin once the server runs. It waits
// for Start (or for ctx to end).
func (g *Gateway) CallAdmin(ctx context.Context, method, path string, body []byte) (status int, response []byte) {
	select {
	case <-g.ready:
	case <-ctx.Done():
		return http.StatusServiceUnavailable, errorBody("modelbar is starting")
	}
	if g.srv == nil {
		return http.StatusServiceUnavailable, errorBody("modelbar did not start: " + g.err.Error())
	}
	return g.srv.CallAdmin(ctx, method, path, body)
}

// ServeInference is (*server.Server).ServeInference once the server runs:
// the window's chat calls /v1 on its own origin and the asset server hands
// the request here. It waits for Start (or for the request to end).
func (g *Gateway) ServeInference(w http.ResponseWriter, r *http.Request) {
	select {
	case <-g.ready:
	case <-r.Context().Done():
		return
	}
	if g.srv == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(errorBody("modelbar did not start: " + g.err.Error()))
		return
	}
	g.srv.ServeInference(w, r)
}

// Addr is the server's address, "" until it runs.
func (g *Gateway) Addr() string {
	select {
	case <-g.ready:
		if g.srv != nil {
			return g.srv.Addr()
		}
	default:
	}
	return ""
}

// Done delivers the error that stopped the server early (never, when it
// did not start).
func (g *Gateway) Done() <-chan error {
	<-g.ready
	if g.srv == nil {
		return nil
	}
	return g.srv.Done()
}

// Ready is closed once Start has returned.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// Shutdown stops the server gracefully (see (*server.Server).Shutdown),
// waiting for a Start under way; a gateway never started will not start.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	started := g.started
	g.mu.Unlock()
	if !started {
		return nil
	}
	<-g.ready
	if g.srv == nil {
		return nil
	}
	return g.srv.Shutdown(ctx)
}

func errorBody(msg string) []byte {
	return []byte(`{"error":{"message":` + jsonString(msg) + `,"type":"api_error","param":null,"code":"unavailable"}}`)
}
