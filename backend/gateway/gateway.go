// Package gateway is modelbar's HTTP server: the OpenAI-compatible inference
// endpoints, the admin API and the middleware that keeps a localhost API safe
// (Host allow-list, Origin checks, body limits, bearer token).
package gateway

import (
	"bytes"
	"cmp"
	"context"
	"github.com/modelbar/modelbar/backend/balance"
	"github.com/modelbar/modelbar/backend/budget"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/conversations"
	"github.com/modelbar/modelbar/backend/events"
	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/metrics"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/respstore"
)

// DefaultMaxBodyBytes bounds inference request bodies: generous enough for
// long contexts with images, small enough that a runaway client cannot
// exhaust memory.
const DefaultMaxBodyBytes = 32 << 20

// Options configures a Server.
type Options struct {
	Addr         string       // the address the server listens on; its host joins the Host allow-list
	AdminToken   string       // the admin bearer token on /api, when Auth is nil
	Auth         *auth.Keeper // admin token, login codes, browser sessions; nil: one in memory over AdminToken
	DataDir      string       // shown in /api/status
	Version      string
	MaxBodyBytes int64 // 0: DefaultMaxBodyBytes
	// FirstByteTimeout bounds how long a backend may take to start
	// answering before the next one is tried; 0 means 2 minutes for
	// streams and 10 for whole answers.
	FirstByteTimeout time.Duration
	Config           *config.Service
	Local            Local // nil: no local engine
	// UI is the built web frontend (index.html and assets), served at /ui/;
	// nil answers /ui with a 404 that says so.
	UI  fs.FS
	Log *slog.Logger

	// Requests is the request log; its owner closes it after the HTTP
	// server has drained. nil: one in memory, for tests, never closed.
	Requests *reqlog.Log
	Metrics  *metrics.Registry // served at /metrics; nil: a new one
	// ResponseStore keeps the /v1/responses answers modelbar makes
	// itself (responses_store); nil: none are kept.
	ResponseStore respstore.Store
	// FileLimit is how many files the process may open, when known: the
	// default connection cap stays below half of it.
	FileLimit int
	// Events is the change feed served at /api/events; nil: the server
	// makes its own.
	Events *events.Hub
	// Conversations keeps the chat's saved conversations
	// (/api/conversations); nil: none are kept, and those endpoints say so.
	Conversations conversations.Store
	// Downloads is the model download manager (/api/downloads,
	// /api/hub, DELETE /api/models/{id}); nil: those answer 503.
	Downloads Downloads
	// HubToken keeps the Hugging Face Hub token (/api/hub/token).
	HubToken HubToken
}

// Server serves the inference and admin APIs. Create it with New; it is safe
// for concurrent use.
type Server struct {
	opts    Options
	cfg     *config.Service
	log     *slog.Logger
	hosts   hostPolicy
	started time.Time

	auth       *auth.Keeper // Options.Auth
	cookieName string       // the browser session cookie's (session.go)

	requests *reqlog.Log       // Options.Requests
	metrics  *metrics.Registry // Options.Metrics
	met      *gatewayMetrics   // the series logRequest records

	pol      atomic.Pointer[failover.Policy] // the failover policy in force (settings)
	breakers *failover.Breakers              // cooldowns of providers and their models
	budget   *budget.Guard                   // the routes' budget counters (budget.go)
	balance  *balance.Balancer               // the groups' balancers and affinity (groups.go)
	keyGate  keyGate                         // require_api_keys, cached (apikeys.go)
	limits   limits                          // resource bounds (limits.go)
	catalog  *providers.Catalog              // the providers' model lists behind /v1/models (models.go)
	events   *events.Hub                     // the change feed (events.go)
	inflight inFlight                        // attempts each backend serves now (inflight.go)
	convs    conversationKeeper              // the chat's saved conversations (conversations.go)
	tests    providerTests                   // each provider's last connection test (providertests.go)
	handler  http.Handler

	// endStreams is closed by EndStreams: open event streams end
	// (events.go).
	endStreams     chan struct{}
	endStreamsOnce sync.Once

	// responses keeps the Responses answers modelbar makes itself; nil
	// without Options.ResponseStore (responses_state.go).
	responses *respstore.Keeper
	// storing maps the ids of responses being stored to a channel closed
	// once they are (responses_state.go).
	storing sync.Map

	// noSystemMessages holds the names of Anthropic providers that refused
	// system messages inside the conversation (translate.go).
	noSystemMessages sync.Map
	// noResponses maps the names of OpenAI-API providers set to
	// responses "auto" that answered /responses with a 404 or 405 to the
	// client (configuration) that did: their Responses calls are
	// translated to chat completions while it is current (responses.go).
	noResponses sync.Map
}

// New builds the server and its routes; Close stops what it starts.
func New(opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Requests == nil {
		opts.Requests = reqlog.New(&reqlog.Memory{}, reqlog.Options{Log: opts.Log})
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewRegistry()
	}
	if opts.Events == nil {
		opts.Events = events.NewHub()
	}
	if opts.Auth == nil {
		opts.Auth = auth.NewMemory(opts.AdminToken, auth.Options{})
	}
	s := &Server{
		opts:       opts,
		cfg:        opts.Config,
		log:        opts.Log,
		hosts:      newHostPolicy(opts.Addr),
		started:    time.Now(),
		auth:       opts.Auth,
		cookieName: sessionCookieName(opts.Addr),
		events:     opts.Events,
		endStreams: make(chan struct{}),
		convs:      conversationKeeper{st: opts.Conversations, mu: &sync.Mutex{}},
	}
	s.requests, s.metrics = opts.Requests, opts.Metrics
	s.met = s.registerMetrics(opts.Metrics)
	s.breakers = failover.NewBreakers(nil)
	s.budget = budget.New(nil)
	s.balance = balance.New(balance.Options{})
	s.seedBudget()
	s.inflight.hub = opts.Events
	s.watchConfig()
	s.watchCooldowns()
	s.watchLocal()
	s.watchPolicy()
	s.watchAPIKeySetting()
	s.watchLimits(opts.FileLimit)
	s.watchResponseSettings(opts.ResponseStore)
	s.catalog = s.newCatalog()
	s.handler = s.middleware(s.routes())
	return s
}

// Close stops the server's background work (fetching the providers' model
// lists, pruning stored responses). Call it after the HTTP server has
// stopped.
func (s *Server) Close() {
	s.catalog.Close()
	if s.responses != nil {
		s.responses.Close()
	}
}

// Handler is the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(method, path string, h http.Handler) {
		mux.Handle(method+" "+path, h)
	}
	handle("POST", "/v1/chat/completions", s.openAIInference(chatCompletions))
	handle("POST", "/v1/completions", s.openAIInference(completions))
	handle("POST", "/v1/embeddings", s.openAIInference(embeddings))
	handle("POST", "/v1/messages", http.HandlerFunc(s.anthropicMessages))
	handle("POST", "/v1/responses", http.HandlerFunc(s.responsesCreate))
	handle("POST", "/v1/responses/input_tokens", http.HandlerFunc(s.responsesInputTokens))
	handle("GET", "/v1/responses/{id}", http.HandlerFunc(s.responseGet))
	handle("DELETE", "/v1/responses/{id}", http.HandlerFunc(s.responseDelete))
	handle("GET", "/v1/responses/{id}/input_items", http.HandlerFunc(s.responseInputItems))
	handle("POST", "/v1/messages/count_tokens", http.HandlerFunc(s.countTokens))
	handle("GET", "/v1/models", http.HandlerFunc(s.listModels))
	handle("GET", "/v1/models/{model...}", http.HandlerFunc(s.getModel))

	admin := func(method, path string, h http.HandlerFunc) { handle(method, path, s.requireAdmin(h)) }
	admin("GET", "/api/status", s.status)
	admin("GET", "/api/connect", s.connectClients)
	admin("GET", "/api/events", s.streamEvents)
	admin("GET", "/api/providers", s.listProviders)
	admin("GET", "/api/providers/{name}", s.getProvider)
	admin("PUT", "/api/providers/{name}", s.putProvider)
	admin("DELETE", "/api/providers/{name}", s.deleteProvider)
	admin("POST", "/api/providers/{name}/test", s.testProvider)
	admin("GET", "/api/providers/{name}/models", s.listProviderModels)
	admin("GET", "/api/routes", s.listRoutes)
	admin("POST", "/api/routes", s.createRoute)
	admin("GET", "/api/routes/resolve", s.resolveRoute)
	admin("POST", "/api/routes/try", s.tryRoute)
	// "resolve" and "try" are not route ids: the other methods get a 405,
	// not the {id} handlers' "ids are positive integers".
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		admin(m, "/api/routes/try", onlyMethod("POST"))
	}
	for _, m := range []string{"PUT", "DELETE"} {
		admin(m, "/api/routes/resolve", onlyMethod("GET"))
	}
	admin("GET", "/api/routes/{id}", s.getRoute)
	admin("PUT", "/api/routes/{id}", s.updateRoute)
	admin("DELETE", "/api/routes/{id}", s.deleteRoute)
	admin("GET", "/api/models", s.listLocalModels)
	admin("POST", "/api/models/load", s.loadModel)
	admin("POST", "/api/models/unload", s.unloadModel)
	admin("POST", "/api/models/pin", s.pinModel)
	admin("DELETE", "/api/models/{id...}", s.deleteLocalModel)
	admin("GET", "/api/hub/search", s.hubSearch)
	admin("GET", "/api/hub/models/{repo...}", s.hubModel)
	admin("GET", "/api/hub/token", s.getHubToken)
	admin("PUT", "/api/hub/token", s.putHubToken)
	admin("DELETE", "/api/hub/token", s.deleteHubToken)
	admin("GET", "/api/downloads", s.listDownloads)
	admin("POST", "/api/downloads", s.createDownload)
	admin("GET", "/api/downloads/{id}", s.getDownload)
	admin("DELETE", "/api/downloads/{id}", s.cancelDownload)
	admin("GET", "/api/requests", s.listRequests)
	admin("GET", "/api/requests/totals", s.requestTotals)
	admin("GET", "/api/requests/{id}", s.getRequest)
	admin("GET", "/api/settings", s.getSettings)
	admin("PUT", "/api/settings", s.putSettings)
	admin("GET", "/api/keys", s.listAPIKeys)
	admin("POST", "/api/keys", s.createAPIKey)
	admin("DELETE", "/api/keys/{id}", s.deleteAPIKey)
	admin("POST", "/api/login-link", s.createLoginLink)
	admin("GET", "/api/sessions", s.listSessions)
	admin("DELETE", "/api/sessions", s.deleteSessions)
	admin("DELETE", "/api/sessions/{id}", s.deleteSession)
	admin("POST", "/api/admin-token/rotate", s.rotateAdminToken)
	admin("GET", "/api/conversations", s.listConversations)
	admin("POST", "/api/conversations", s.createConversation)
	admin("GET", "/api/conversations/{id}", s.getConversation)
	admin("PUT", "/api/conversations/{id}", s.updateConversation)
	admin("DELETE", "/api/conversations/{id}", s.deleteConversation)
	admin("GET", "/api/cooldowns", s.listCooldowns)
	admin("DELETE", "/api/cooldowns", s.endAllCooldowns)
	admin("DELETE", "/api/cooldowns/{provider}", s.endCooldown)
	admin("DELETE", "/api/cooldowns/{provider}/{model...}", s.endCooldown)

	handle("GET", "/metrics", http.HandlerFunc(s.serveMetrics))
	handle("GET", "/ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	handle("GET", "/ui/{file...}", http.HandlerFunc(s.serveUI))
	handle("GET", "/ui/login", http.HandlerFunc(s.login))

	handle("GET", "/{$}", http.HandlerFunc(s.serveRoot)) // GET also takes HEAD; "{$}": "/" only, not a catch-all
	handle("GET", "/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			jsonMuxErrors(mux).ServeHTTP(w, r) // no route: ServeMux's own 404, 405 or redirect
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// onlyMethod answers a request to a path that takes only allow (and HEAD
// with GET) with a 405 in the API's error format.
func onlyMethod(allow string) http.HandlerFunc {
	if allow == http.MethodGet {
		allow = "GET, HEAD"
	}
	return func(w http.ResponseWriter, r *http.Request) { methodNotAllowed(w, r, allow) }
}

// methodNotAllowed writes the 405 for r, allow being the methods its path takes.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	failWith(w, r, &apiError{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error", Code: "method_not_allowed",
		Message: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + allow})
}

// jsonMuxErrors replays ServeMux's own response for a request no route
// takes, except that its plain-text 404 and 405 become the API's JSON errors
// (the 405 keeping its Allow header).
func jsonMuxErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &captureWriter{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusNotFound:
			failWith(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "unknown_url",
				Message: "unknown URL " + r.Method + " " + truncate(r.URL.Path, 256)})
			return
		case http.StatusMethodNotAllowed:
			methodNotAllowed(w, r, rec.header.Get("Allow"))
			return
		}
		maps.Copy(w.Header(), rec.header)
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes())
	})
}

// CallAdmin answers one admin API request in process, as the HTTP server
// would (same handler, validation and JSON): the desktop app's window and
// tray call it. It needs no credential — the request is marked in its
// context, which no network request can carry — so rotating the admin
// token never locks the window out. Only /api/ paths are served.
func (s *Server) CallAdmin(ctx context.Context, method, path string, body []byte) (status int, response []byte) {
	if !strings.HasPrefix(path, "/api/") {
		return http.StatusBadRequest, []byte(`{"error":{"message":"only /api/ paths are served in process","type":"invalid_request_error","param":null,"code":null}}`)
	}
	ctx = context.WithValue(InProcess(ctx), adminCallKey{}, true)
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.opts.Addr+path, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadRequest, []byte(`{"error":{"message":"malformed request","type":"invalid_request_error","param":null,"code":null}}`)
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Content-Type", "application/json")
	rec := &captureWriter{header: http.Header{}}
	s.handler.ServeHTTP(rec, req)
	return cmp.Or(rec.status, http.StatusOK), rec.body.Bytes()
}

// ServeInference answers one /v1 request of the desktop window in process:
// the window's chat sends it to its own origin (wails://), where the
// app's asset server hands it here, streaming as the HTTP server would.
// Like CallAdmin it needs no credential — the mark in its context admits
// it when inference keys are required, and no network request can carry
// it — so the window never holds a key. The request is otherwise served
// as one from 127.0.0.1 (Host, no Origin): same routing, logs and request
// log. Only /v1/ paths are served.
func (s *Server) ServeInference(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		failWith(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "unknown_url",
			Message: "only /v1/ paths are served in process, not " + truncate(r.URL.Path, 256)})
		return
	}
	r = r.Clone(context.WithValue(r.Context(), adminCallKey{}, true))
	r.Host = s.opts.Addr
	r.URL.Scheme, r.URL.Host = "", ""
	r.RemoteAddr = "127.0.0.1:0"
	r.RequestURI = ""
	r.Header.Del("Origin")
	r.Header.Del("Cookie")
	s.handler.ServeHTTP(w, r)
}

// captureWriter records a small response in memory.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(b)
}
