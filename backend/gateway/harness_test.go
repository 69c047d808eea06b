package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/gateway"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/router"
	"github.com/modelbar/modelbar/backend/secrets"
	"github.com/modelbar/modelbar/backend/store"
)

const adminToken = "test-token"

// harness is a gateway served on loopback over real components: SQLite in a
// temp dir, the file secret store, the provider registry and the config
// service. Every response it sees is checked for a wildcard CORS header.
type harness struct {
	t          testing.TB
	srv        *httptest.Server
	client     *http.Client
	cfg        *config.Service
	dbPath     string
	secretsDir string // the file secret store's directory
	logs       *syncBuffer
	gw         *gateway.Server

	mu       sync.Mutex
	idle     *sync.Cond // signalled when inflight drops to zero
	inflight int        // guarded by mu: gateway handler calls not yet returned
}

// newHarness starts a gateway; opts may adjust its Options before New.
func newHarness(t testing.TB, opts ...func(*gateway.Options)) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, logs: &syncBuffer{}}
	h.idle = sync.NewCond(&h.mu)
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	h.dbPath = filepath.Join(t.TempDir(), "modelbar.db")
	st, err := store.Open(ctx, h.dbPath)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	h.secretsDir = t.TempDir()
	sec, err := secrets.NewFile(h.secretsDir)
	if err != nil {
		t.Fatalf("secrets.NewFile: %v", err)
	}
	clients := providers.NewRegistry()
	t.Cleanup(clients.Close)
	h.cfg, err = config.New(ctx, st, sec, clients, log)
	if err != nil {
		t.Fatalf("config.New: %v", err)
	}
	// Quick retries keep the suite fast; tests of the backoff set their own.
	backoff, backoffMax := int64(2), int64(50)
	if _, err := h.cfg.PutSettings(ctx, config.SettingsInput{RetryBackoffMS: &backoff, RetryBackoffMaxMS: &backoffMax}); err != nil {
		t.Fatalf("settings: %v", err)
	}

	requests := reqlog.New(st, reqlog.Options{Log: log})
	t.Cleanup(func() { requests.Close() }) // after the server, before the store

	h.srv = httptest.NewUnstartedServer(nil)
	o := gateway.Options{Addr: h.srv.Listener.Addr().String(), AdminToken: adminToken, Config: h.cfg, Log: log, Requests: requests, ResponseStore: st, Conversations: st}
	for _, f := range opts {
		f(&o)
	}
	gw := gateway.New(o)
	h.gw = gw
	// Registered before the server's Close, so it runs after it.
	t.Cleanup(gw.Close)
	h.srv.Listener = gw.Listener(h.srv.Listener) // max_connections, as modelbar serve has it
	h.srv.Config.Handler = h.track(gw.Handler())
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	h.client = &http.Client{Transport: &corsGuard{t: t, next: h.srv.Client().Transport}}
	return h
}

// track counts handler calls in flight so a test can wait, without sleeping,
// until the gateway has finished its bookkeeping (log line, request log) for
// a response the client already holds.
func (h *harness) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.inflight++
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			h.inflight--
			if h.inflight == 0 {
				h.idle.Broadcast()
			}
			h.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// settle waits until no gateway handler is running.
func (h *harness) settle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.inflight > 0 {
		h.idle.Wait()
	}
}

// corsGuard fails the test on any gateway response that allows every origin.
type corsGuard struct {
	t    testing.TB
	next http.RoundTripper
}

func (g *corsGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := g.next.RoundTrip(r)
	if err == nil && resp.Header.Get("Access-Control-Allow-Origin") == "*" {
		g.t.Errorf("%s %s: response carries Access-Control-Allow-Origin: *", r.Method, r.URL.Path)
	}
	return resp, err
}

// url is the gateway's address for path.
func (h *harness) url(path string) string { return h.srv.URL + path }

// request builds a request to the gateway; headers are name, value pairs.
func (h *harness) request(method, path string, body []byte, headers ...string) *http.Request {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url(path), rd)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// do sends req and returns the response with its body read and closed.
func (h *harness) do(req *http.Request) (*http.Response, []byte) {
	h.t.Helper()
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return resp, b
}

// post sends a JSON body to an inference endpoint.
func (h *harness) post(path, body string, headers ...string) (*http.Response, []byte) {
	h.t.Helper()
	return h.do(h.request(http.MethodPost, path, []byte(body), headers...))
}

// admin calls the admin API with the token; body is marshalled unless nil.
func (h *harness) admin(method, path string, body any) (*http.Response, []byte) {
	h.t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			h.t.Fatalf("marshal: %v", err)
		}
	}
	return h.do(h.request(method, path, b, "Authorization", "Bearer "+adminToken))
}

// mustAdmin calls the admin API and fails the test unless the status is want.
func (h *harness) mustAdmin(method, path string, body any, want int) []byte {
	h.t.Helper()
	resp, b := h.admin(method, path, body)
	if resp.StatusCode != want {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, want, b)
	}
	return b
}

// putProvider creates or updates an OpenAI-type provider.
func (h *harness) putProvider(name, baseURL, key string) {
	h.t.Helper()
	in := map[string]any{"type": "openai", "base_url": baseURL}
	if key != "" {
		in["api_key"] = key
	}
	resp, b := h.admin(http.MethodPut, "/api/providers/"+name, in)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		h.t.Fatalf("put provider %s: status %d: %s", name, resp.StatusCode, b)
	}
}

// addRoute creates a route and returns it as stored.
func (h *harness) addRoute(in map[string]any) router.Route {
	h.t.Helper()
	var rt router.Route
	decode(h.t, h.mustAdmin(http.MethodPost, "/api/routes", in, http.StatusCreated), &rt)
	return rt
}

// route is addRoute for the common case: pattern to backend, then fallbacks.
func (h *harness) route(pattern, backend string, fallbacks ...string) router.Route {
	h.t.Helper()
	if fallbacks == nil {
		fallbacks = []string{}
	}
	return h.addRoute(map[string]any{"model_pattern": pattern, "backend": backend, "fallbacks": fallbacks})
}

func decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// openAIError is the OpenAI error body; param and code may be null.
type openAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// mustOpenAIError checks that b is {"error":{"message","type","param","code"}}
// with every key present and a non-empty message, and returns it.
func mustOpenAIError(t *testing.T, b []byte) openAIError {
	t.Helper()
	var raw struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Error == nil {
		t.Fatalf("error body %q is not {\"error\":{...}}: %v", b, err)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := raw.Error[k]; !ok {
			t.Errorf("error body %s lacks %q", b, k)
		}
	}
	var e struct {
		Error openAIError `json:"error"`
	}
	decode(t, b, &e)
	if e.Error.Message == "" || e.Error.Type == "" {
		t.Errorf("error body %s: empty message or type", b)
	}
	return e.Error
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// deadURL is a base URL where nothing listens: listen, note the port, close.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/v1"
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
