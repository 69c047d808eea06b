package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/router"
)

// Defaults of the resource settings (config.Settings says what each means).
const (
	defaultBodyReadTimeout   = 60 * time.Second
	defaultMaxConnections    = 1024
	defaultMaxInflight       = 512
	defaultTranslationBudget = 32 << 20
	// budgetWait is how long a request waits for translation budget
	// before it is refused.
	budgetWait = 5 * time.Second
	// MaxModelNameBytes bounds a model name in a request: longer ones are
	// refused before they reach a route, a log line or the request log.
	MaxModelNameBytes = router.MaxModelBytes
)

// limits are the resource bounds in force, read on every request without
// a lock and swapped when the settings change.
type limits struct {
	bodyTimeout atomic.Int64 // time.Duration
	maxConns    atomic.Int64
	maxInflight atomic.Int64
	origins     atomic.Pointer[[]string] // allowed_origins, canonical

	inflight atomic.Int64 // requests being served now
	conns    atomic.Int64 // client connections open now
	budget   byteBudget   // decoded request bytes
}

// watchLimits loads the resource settings and follows their changes.
// fileLimit, when known, lowers the default connection cap so that
// connections cannot use up the process's files.
func (s *Server) watchLimits(fileLimit int) {
	apply := func(st config.Settings) {
		l := &s.limits
		l.bodyTimeout.Store(int64(orDefault(time.Duration(st.BodyReadTimeoutSeconds)*time.Second, defaultBodyReadTimeout)))
		conns := int64(defaultMaxConnections)
		if fileLimit > 0 {
			conns = min(conns, int64(fileLimit/2))
		}
		l.maxConns.Store(orDefault(st.MaxConnections, conns))
		s.cfg.SetDefault("max_connections", conns) // what GET /api/settings shows for 0
		l.maxInflight.Store(orDefault(st.MaxInflightRequests, defaultMaxInflight))
		l.budget.setLimit(orDefault(st.TranslationBudgetMB<<20, defaultTranslationBudget))
		origins := st.AllowedOrigins
		l.origins.Store(&origins)
	}
	s.cfg.OnSettings(apply)
	st, err := s.cfg.Settings(context.Background())
	if err != nil {
		s.log.Warn("cannot read the settings; the default resource limits apply", "err", err)
	}
	apply(st)
}

func orDefault[T int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// errOverloaded answers a request beyond max_inflight_requests.
func errOverloaded(n int64) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "overloaded",
		Header:  http.Header{"Retry-After": {"1"}},
		Message: fmt.Sprintf("modelbar is serving its limit of %d requests at once (max_inflight_requests); retry in a moment", n)}
}

// admitRequest counts the request against max_inflight_requests; done
// must be called when it ends. Health checks, CORS preflights and the
// app's own in-process calls are not counted: they must answer under load.
func (s *Server) admitRequest(r *http.Request) (done func(), err error) {
	if r.URL.Path == "/healthz" || r.Method == http.MethodOptions || r.Context().Value(inProcessKey{}) != nil {
		return func() {}, nil
	}
	l := &s.limits
	if n := l.inflight.Add(1); n > l.maxInflight.Load() {
		l.inflight.Add(-1)
		return nil, errOverloaded(l.maxInflight.Load())
	}
	return func() { l.inflight.Add(-1) }, nil
}

// limitBodyTime makes a request body arrive within body_read_timeout: the
// connection's read deadline is set now and cleared once the body has been
// read to its end (a later deadline would cancel a long stream's context).
// A body that is never read is drained by net/http after the handler,
// still under the deadline.
func (s *Server) limitBodyTime(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(time.Duration(s.limits.bodyTimeout.Load()))) != nil {
		return // not a network connection (an in-process call)
	}
	r.Body = &deadlineBody{ReadCloser: r.Body, clear: func() { rc.SetReadDeadline(time.Time{}) }}
}

// deadlineBody clears the read deadline when the body is read to its end.
type deadlineBody struct {
	io.ReadCloser
	clear func()
	once  sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(b.clear)
	}
	return n, err
}

// bodyTimedOut reports whether a body read failed because the body did not
// arrive in time.
func bodyTimedOut(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// checkModelName refuses a model name longer than MaxModelNameBytes,
// quoting only its start.
func checkModelName(model string) error {
	if len(model) <= MaxModelNameBytes {
		return nil
	}
	return &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "model", Code: "model_name_too_long",
		Message: fmt.Sprintf("model: the name is %d bytes long; model names are at most %d bytes (it starts %s)",
			len(model), MaxModelNameBytes, quoteName(model))}
}

// byteBudget bounds the request bytes decoded at once (translation and the
// local engine hold a request's decoded form for the whole call, at many
// times its size). A request larger than the whole budget runs alone.
// Safe for concurrent use; the zero value has no room until setLimit.
type byteBudget struct {
	mu      sync.Mutex
	limit   int64         // guarded by mu
	used    int64         // guarded by mu
	changed chan struct{} // guarded by mu: closed and replaced when room may have appeared
}

func (b *byteBudget) setLimit(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.limit = n
	b.wake()
}

func (b *byteBudget) wake() {
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// errBudget: the translation budget stayed full for budgetWait.
var errBudget = &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "overloaded",
	Header:  http.Header{"Retry-After": {"2"}},
	Message: "modelbar is translating as much as its memory budget allows (translation_budget_mb); retry in a moment"}

// acquire takes n bytes of the budget, waiting up to wait for room; it
// returns the function that gives them back.
func (b *byteBudget) acquire(ctx context.Context, n int64, wait time.Duration) (release func(), err error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		b.mu.Lock()
		take := min(n, b.limit)
		if b.used == 0 || b.used+take <= b.limit {
			b.used += take
			b.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					b.mu.Lock()
					b.used -= take
					b.wake()
					b.mu.Unlock()
				})
			}, nil
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-timer.C:
			return nil, errBudget
		}
	}
}

// Listener caps the connections served from ln at max_connections: beyond
// it a new connection is answered 503 with Retry-After and closed at once,
// so a flood of idle or slow clients cannot use up the process's files
// and starve everyone (health checks included) of accept.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, l: &s.limits, refusing: make(chan struct{}, maxRefusing)}
}

// maxRefusing bounds the connections being answered 503 and drained at
// once; beyond it an excess connection gets its 503 and is closed at once.
const maxRefusing = 128

type limitedListener struct {
	net.Listener
	l        *limits
	refusing chan struct{} // a slot per connection being refused
}

func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ln.l.conns.Add(1) <= ln.l.maxConns.Load() {
			return &countedConn{Conn: c, conns: &ln.l.conns}, nil
		}
		ln.l.conns.Add(-1)
		select {
		case ln.refusing <- struct{}{}:
			go func() {
				refuse(c, ln.l.maxConns.Load(), true)
				<-ln.refusing
			}()
		default:
			refuse(c, ln.l.maxConns.Load(), false)
		}
	}
}

// refuse answers a connection beyond the cap with a 503 and closes it.
// With drain it first reads, briefly, what the client sent, so that the
// close does not reset the connection before the client has read the
// answer; without, it never blocks the accept loop for long.
func refuse(c net.Conn, max int64, drain bool) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	body := openAIErrorBody(&apiError{Type: "server_error", Code: "too_many_connections", Message: fmt.Sprintf(
		"modelbar has its limit of %d connections open (max_connections); retry in a moment", max)})
	io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"+
		"Connection: close\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n")
	c.Write(body)
	if !drain {
		return
	}
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// countedConn gives its place back when closed (once).
type countedConn struct {
	net.Conn
	conns  *atomic.Int64
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.conns.Add(-1)
	}
	return c.Conn.Close()
}
