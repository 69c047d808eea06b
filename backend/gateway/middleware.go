package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/reqlog"
)

// requestInfo collects, while a request is handled, what its log line and
// request-log entry report. One goroutine writes it: the handler's.
type requestInfo struct {
	protocol     string
	model        string
	route        string // the pattern of the route that matched; "" for none
	routeID      int64  // its id; 0 for none
	backend      string
	fallbackFrom []string
	stream       bool
	errMsg       string

	// Filled as the answer goes out, when known.
	firstByte    time.Time // when the answer's first byte reached the client
	inputTokens  int64     // usage the backend reported
	cachedTokens int64     // the part of inputTokens read from the backend's prompt cache
	outputTokens int64

	// The request-log side (reqsteps.go): the failover chain as walked,
	// whether the answer went out whole, and what was streamed for an
	// estimate of the output when no usage covers it.
	attempts   []reqlog.Attempt
	finished   bool  // the answer is complete (or ended by the gateway's error event): a client leaving after it cancelled nothing
	deltas     int64 // content deltas streamed to the client
	deltaBytes int64 // their text, in bytes
	localCount bool  // the deltas are the local engine's, about one token each
}

type infoKey struct{}

// infoSinkKey carries a **requestInfo an in-process caller (the route
// tester) wants filled with the request's info, to report its chain.
type infoSinkKey struct{}

type inProcessKey struct{}

// InProcess marks a request the app makes of itself (the desktop window
// and the menu-bar icon calling the admin API in process): it is logged at
// debug level, so their polling does not fill the log.
func InProcess(ctx context.Context) context.Context {
	return context.WithValue(ctx, inProcessKey{}, true)
}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(infoKey{}).(*requestInfo)
	return info
}

// middleware wraps every request: panic recovery, the access log, the body
// read deadline, the Host allow-list, the Origin policy, the in-flight cap
// and the inference key check, in that order.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		if sink, ok := r.Context().Value(infoSinkKey{}).(**requestInfo); ok {
			*sink = info // POST /api/routes/try reads the chain it walked
		}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					failWith(sw, r, &apiError{Status: http.StatusInternalServerError, Type: "server_error", Message: "internal error: see the modelbar log"})
				}
			}
			s.logRequest(r, sw.status, start, info)
			if p == http.ErrAbortHandler {
				panic(p) // net/http's way to cut the connection; logged above first
			}
		}()
		s.limitBodyTime(sw, r)
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			info.protocol = string(pathProtocol(r.URL.Path))
			// Until a backend answers, none did: the gateway itself answers
			// validation errors, model lists and the like.
			sw.Header().Set(headerBackend, noBackend)
		}
		if !s.hosts.allowed(r.Host) {
			failWith(sw, r, &apiError{Status: http.StatusForbidden, Type: "permission_error", Code: "host_not_allowed",
				Message: fmt.Sprintf("Host %s is not allowed: modelbar answers only to localhost names and its own address (DNS rebinding protection)", quoteName(r.Host))})
			return
		}
		if !s.checkOrigin(sw, r) {
			return
		}
		done, err := s.admitRequest(r)
		if err != nil {
			s.fail(sw, r, err)
			return
		}
		defer done()
		if !s.checkAPIKey(sw, r) {
			return
		}
		next.ServeHTTP(sw, r)
	})
}

// checkOrigin applies the browser policy. Requests without an Origin
// (editors, SDKs, curl; editor extensions call from Node) pass. /api takes
// only same-origin requests (the /ui page) and the desktop window's own
// origin. /v1 also takes pages served from loopback — a local web app —
// and the origins listed in allowed_origins (a LAN web app, an editor
// webview), and answers their CORS preflight, echoing that one origin,
// never "*". Any other origin, of whatever scheme, is refused.
func (s *Server) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	v1 := strings.HasPrefix(r.URL.Path, "/v1/")
	ok := false
	switch kind, host := classifyOrigin(origin); {
	case strings.EqualFold(origin, desktopOrigin):
		ok = true // the app's own window: no web page can send it
	case kind == originWeb && strings.EqualFold(host, r.Host):
		ok = true
	case v1 && kind == originWeb && isLoopbackHost(host):
		ok = true
	case v1 && kind != originInvalid:
		ok = slices.Contains(*s.limits.origins.Load(), strings.ToLower(origin))
	}
	if !ok {
		msg := fmt.Sprintf("Origin %s is not allowed to call this API", quoteName(origin))
		if v1 && !isLoopbackOrigin(origin) {
			msg += "; to let it call /v1, add it to the allowed_origins setting (PUT /api/settings)"
		}
		failWith(w, r, &apiError{Status: http.StatusForbidden, Type: "permission_error", Code: "origin_not_allowed", Message: msg})
		return false
	}
	if v1 {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", exposeHeaders)
		w.Header().Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", allowHeaders(r.Header.Values("Access-Control-Request-Headers")))
			w.Header().Add("Vary", "Access-Control-Request-Headers")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return false
		}
	}
	return true
}

// desktopOrigin is the Origin of the desktop app's own window (Wails).
const desktopOrigin = "wails://wails"

func isLoopbackOrigin(origin string) bool {
	kind, host := classifyOrigin(origin)
	return kind == originWeb && isLoopbackHost(host)
}

// exposeHeaders are the response headers a browser app may read.
const exposeHeaders = "X-Modelbar-Backend, X-Modelbar-Backend-Model, X-Modelbar-Fallback-From, X-Modelbar-Dropped, X-Modelbar-Skipped, X-Modelbar-Estimate, X-Request-Id, Retry-After"

const baseAllowHeaders = "Authorization, Content-Type, x-api-key, anthropic-version, anthropic-beta, OpenAI-Beta"

// allowHeaders answers a preflight's Access-Control-Request-Headers. The
// OpenAI and Anthropic JavaScript SDKs send headers of their own
// (X-Stainless-*, anthropic-dangerous-direct-browser-access) on every
// request, so a fixed list would block them; the origin has already been
// judged trustworthy, so whatever headers it asks for are allowed.
func allowHeaders(requested []string) string {
	if len(requested) == 0 {
		return baseAllowHeaders
	}
	return baseAllowHeaders + ", " + strings.Join(requested, ", ")
}

func (s *Server) logRequest(r *http.Request, status int, start time.Time, info *requestInfo) {
	if status == 0 || info.cancelledStream(r.Context(), status) {
		status = reqlog.StatusClientClosed // the client went away before the answer was complete
	}
	d := time.Since(start)
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("path", truncate(r.URL.Path, 256)), slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
	}
	if info.model != "" {
		attrs = append(attrs, slog.String("model", info.model), slog.String("backend", info.backend), slog.Bool("stream", info.stream))
	}
	if len(info.fallbackFrom) > 0 {
		attrs = append(attrs, slog.String("fallback_from", strings.Join(info.fallbackFrom, ",")))
	}
	errMsg := truncate(info.errMsg, 300)
	if errMsg != "" {
		attrs = append(attrs, slog.String("error", errMsg))
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelWarn
	case r.Context().Value(inProcessKey{}) != nil:
		level = slog.LevelDebug // the desktop app's own polling
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
	if info.model != "" {
		ttfb := time.Duration(-1)
		if !info.firstByte.IsZero() {
			ttfb = max(info.firstByte.Sub(start), 0)
		}
		out, source := info.output(status)
		e := reqlog.Entry{
			Time: start.UTC(), Method: r.Method, Path: truncate(r.URL.Path, 256), Protocol: info.protocol, Model: info.model,
			Route: info.route, Backend: info.backend, FallbackFrom: info.fallbackFrom, Status: status, Stream: info.stream,
			InputTokens: info.inputTokens, CachedTokens: info.cachedTokens, OutputTokens: out, OutputTokensSource: source, TTFBMS: -1,
			DurationMS: d.Milliseconds(), Error: errMsg, Attempts: info.chain(status, errMsg),
		}
		if ttfb >= 0 {
			e.TTFBMS = ttfb.Milliseconds()
		}
		if info.routeID != 0 {
			s.budget.AddTokens(info.routeID, e.InputTokens+e.OutputTokens)
		}
		s.requests.Add(e)
		s.publishRequest(e)
		s.met.observe(e, d, ttfb)
	}
}

// statusWriter records the status code. It forwards Flush and exposes the
// wrapped writer through Unwrap so http.ResponseController reaches it:
// streaming must not be held back by a wrapper.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// truncate shortens a provider's error message for the log and the request
// log: enough to say what went wrong, too short to carry a prompt a provider
// might quote back.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// quoteName quotes a client-given name (a model) for a message, cut to a
// short prefix: the client knows what it sent, and a long name must not
// grow answers or logs.
func quoteName(s string) string { return strconv.Quote(truncate(s, 64)) }

// pathProtocol is the API a /v1 path belongs to; errors on it, even those of
// the middleware, come in that API's shape (the Responses API's are OpenAI's).
func pathProtocol(path string) protocol.Protocol {
	if path == "/v1/messages" || strings.HasPrefix(path, "/v1/messages/") {
		return protocol.Anthropic
	}
	if path == "/v1/responses" || strings.HasPrefix(path, "/v1/responses/") {
		return protocol.Responses
	}
	return protocol.OpenAI
}
