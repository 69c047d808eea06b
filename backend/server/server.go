// Package server assembles modelbar's services — data dir, store, secrets,
// configuration, provider clients and the HTTP gateway — and runs them until
// shut down. `modelbar serve` and the desktop app both start it.
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/downloads"
	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/events"
	"github.com/modelbar/modelbar/backend/gateway"
	"github.com/modelbar/modelbar/backend/metrics"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/secrets"
	"github.com/modelbar/modelbar/backend/store"
)

// DefaultAddr is where modelbar listens unless told otherwise: loopback only.
const DefaultAddr = "127.0.0.1:11500"

// Options configures a server.
type Options struct {
	Addr    string // listen address; "" means DefaultAddr
	DataDir string // holds modelbar.db, admin-token and (file backend) the encrypted keys
	Version string
	Log     *slog.Logger
	UI      fs.FS // the built web frontend served at /ui/; nil: none
}

// Server is a running modelbar. Shutdown stops it.
type Server struct {
	gateway  *gateway.Server
	log      *slog.Logger
	listener net.Listener
	http     *http.Server
	store    *store.Store
	clients  *providers.Registry
	config   *config.Service
	local    *engine.Engine
	backend  tensor.Backend
	requests *reqlog.Log
	metrics  *metrics.Registry
	events   *events.Hub
	// downloads is the model download manager; Shutdown stops it
	// (downloads cut there continue at the next start).
	downloads *downloads.Manager
	serveErr  chan error
	dataDir   string
}

// Start opens everything and starts serving in the background. On error,
// whatever was opened is closed again.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := secureDataDir(opts.DataDir, opts.Log); err != nil {
		return nil, err
	}
	keeper, err := auth.Open(opts.DataDir, auth.Options{})
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, filepath.Join(opts.DataDir, dbFileName))
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { st.Close() })
	sec, err := secrets.Open(ctx, opts.DataDir, opts.Log)
	if err != nil {
		return nil, fmt.Errorf("open secret store: %w", err)
	}
	clients := providers.NewRegistry()
	cleanup = append(cleanup, clients.Close)
	cfg, err := config.New(ctx, st, sec, clients, opts.Log)
	if err != nil {
		return nil, err
	}
	requests, err := startRequestLog(ctx, st, cfg, opts.Log)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { requests.Close() })
	local, backend, err := startEngine(ctx, opts.DataDir, cfg, opts.Log)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { local.Close(); backend.Close() })
	hub := events.NewHub()
	dl, hubToken, err := startDownloads(ctx, opts.DataDir, st, sec, hub, local, engineBudget(cfg), opts.Log)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, dl.Close)
	ln, err := listen(opts.Addr)
	if err != nil {
		return nil, err
	}
	reg := metrics.NewRegistry()
	gw := gateway.New(gateway.Options{
		Events: hub,
		Addr:   ln.Addr().String(), Auth: keeper, DataDir: opts.DataDir, Version: opts.Version, Config: cfg, Log: opts.Log,
		Local: local, Requests: requests, Metrics: reg, UI: opts.UI, FileLimit: fileLimit(), ResponseStore: st, Conversations: st,
		Downloads: dl, HubToken: hubToken,
	})
	s := &Server{
		gateway: gw, log: opts.Log, listener: ln, store: st, clients: clients, config: cfg, serveErr: make(chan error, 1),
		local: local, backend: backend, requests: requests, metrics: reg, events: hub, downloads: dl, dataDir: opts.DataDir,
		http: &http.Server{
			Handler:           gw.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelWarn),
		},
	}
	s.http.RegisterOnShutdown(gw.EndStreams) // the UI's event streams would hold a graceful shutdown to its deadline
	go func() { s.serveErr <- s.http.Serve(gw.Listener(ln)) }()
	gw.WarmModelList() // an editor's model picker asks right away
	opts.Log.Info("modelbar listening", "addr", "http://"+ln.Addr().String(), "data_dir", opts.DataDir,
		"secrets", sec.Backend(), "admin_token_file", auth.TokenPath(opts.DataDir))
	return s, nil
}

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listen on %s: the address is in use (is modelbar already running?); choose another with --addr: %w", addr, err)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// CallAdmin answers one admin API request in process (see
// gateway.Server.CallAdmin): the desktop window's bindings and the tray use
// it, so the window and a browser on /ui share one API.
func (s *Server) CallAdmin(ctx context.Context, method, path string, body []byte) (status int, response []byte) {
	return s.gateway.CallAdmin(ctx, method, path, body)
}

// ServeInference answers one /v1 request of the desktop window in process
// (see gateway.Server.ServeInference).
func (s *Server) ServeInference(w http.ResponseWriter, r *http.Request) {
	s.gateway.ServeInference(w, r)
}

// LoginLink makes a one-time login link for a browser (see
// gateway.Server.LoginLink): it works once, until expires.
func (s *Server) LoginLink() (link string, expires time.Time) { return s.gateway.LoginLink() }

// Config is the configuration service, for the desktop app and the tray.
func (s *Server) Config() *config.Service { return s.config }

// Metrics is the registry served at /metrics, for services that add their
// own series.
func (s *Server) Metrics() *metrics.Registry { return s.metrics }

// Events is the change feed (GET /api/events), for the desktop window and
// the tray.
func (s *Server) Events() *events.Hub { return s.events }

// Done delivers the error that stopped serving early, if it does.
func (s *Server) Done() <-chan error { return s.serveErr }

// Shutdown stops accepting requests, lets in-flight ones (streams included)
// finish until ctx ends, then stops the gateway's background fetches,
// writes the request log's last entries and closes the provider clients and
// the database.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.log.Warn("in-flight requests cut off at shutdown", "err", err)
		s.http.Close()
	}
	s.gateway.Close()
	s.downloads.Close()
	s.requests.Close()
	s.clients.Close()
	s.local.Close()
	s.backend.Close()
	if cerr := s.store.Close(); cerr != nil {
		return fmt.Errorf("close database: %w", cerr)
	}
	return nil
}
