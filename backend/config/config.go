// Package config owns modelbar's live configuration: providers (their keys
// kept in the secret store) and routes. It validates every change, persists
// it, and publishes an immutable routing table and a fresh set of provider
// clients that the request path reads without locks. The admin API, the
// desktop window and the tray all change configuration through it.
package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/redact"
	"github.com/modelbar/modelbar/backend/router"
	"github.com/modelbar/modelbar/backend/secrets"
	"github.com/modelbar/modelbar/backend/store"
)

// ErrNotFound: the provider or route does not exist.
var ErrNotFound = errors.New("not found")

// ConflictError: the change contradicts existing state (a provider still used
// by routes).
type ConflictError struct{ Message string }

func (e *ConflictError) Error() string { return e.Message }

// Service is the configuration service. Safe for concurrent use: writes are
// serialised, reads see the last published snapshot.
type Service struct {
	store   *store.Store
	secrets secrets.Store
	clients *providers.Registry
	log     *slog.Logger
	getenv  func(string) string

	writeMu    sync.Mutex                   // serialises changes: validate, persist, publish
	table      atomic.Pointer[router.Table] // the published routing table
	onChange   []func()                     // guarded by writeMu; called after each publish
	onSettings []func(Settings)             // guarded by writeMu; called after each settings change
	apiKeys    atomic.Pointer[apiKeySet]    // the published inference API keys (apikeys.go); swapped under writeMu
}

// New loads the configuration and publishes it. clients is filled and kept in
// sync; the caller closes it.
func New(ctx context.Context, st *store.Store, sec secrets.Store, clients *providers.Registry, log *slog.Logger) (*Service, error) {
	s := &Service{store: st, secrets: sec, clients: clients, log: log, getenv: lookupEnv}
	s.cleanUpKeys(ctx)
	if err := s.publish(ctx); err != nil {
		return nil, err
	}
	if err := s.loadAPIKeys(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Table returns the current routing table.
func (s *Service) Table() *router.Table { return s.table.Load() }

// Clients returns the provider clients, kept in sync with the configuration.
func (s *Service) Clients() *providers.Registry { return s.clients }

// SecretsBackend names where keys are kept ("keychain", "secret-service", "file").
func (s *Service) SecretsBackend() string { return s.secrets.Backend() }

// OnChange registers f to run after every published change (UI refresh, tray).
// f must not block.
func (s *Service) OnChange(f func()) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.onChange = append(s.onChange, f)
}

// writeContext detaches a change from its request: once begun, a change
// runs to its end (secret store, database, publish) even if the client
// leaves, so the three never disagree. It is still bounded in time.
func writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// publish rebuilds the routing table and provider clients from the store.
// Callers that change state hold writeMu.
func (s *Service) publish(ctx context.Context) error {
	rows, err := s.store.ListRoutes(ctx)
	if err != nil {
		return fmt.Errorf("load routes: %w", err)
	}
	routes := make([]router.Route, len(rows))
	for i, r := range rows {
		routes[i] = fromStoreRoute(r)
	}
	table, err := router.NewTable(routes)
	if err != nil {
		return fmt.Errorf("load routes: %w", err)
	}
	cfgs, err := s.clientConfigs(ctx)
	if err != nil {
		return err
	}
	s.clients.Sync(cfgs)
	s.table.Store(table)
	for _, f := range s.onChange {
		f()
	}
	return nil
}

func (s *Service) clientConfigs(ctx context.Context) ([]providers.Config, error) {
	rows, err := s.store.ListProviders(ctx)
	if err != nil {
		return nil, fmt.Errorf("load providers: %w", err)
	}
	cfgs := make([]providers.Config, 0, len(rows))
	for _, p := range rows {
		key, _, err := s.apiKey(ctx, p)
		if err != nil {
			// One unreadable key must not take the gateway down: the
			// provider runs without it and answers 401, which says why.
			s.log.Warn("provider key unavailable", "provider", p.Name, "err", err)
		}
		cfgs = append(cfgs, providers.Config{
			Name: p.Name, Type: providers.Type(p.Type), BaseURL: p.BaseURL, APIKey: key, DefaultMaxTokens: p.DefaultMaxTokens,
		})
	}
	return cfgs, nil
}

// apiKey returns the key a provider uses and where it came from: the named
// environment variable when it is set and non-empty, else the secret store.
func (s *Service) apiKey(ctx context.Context, p store.Provider) (redact.Value, string, error) {
	if p.APIKeyEnv != "" {
		if v := s.getenv(p.APIKeyEnv); v != "" {
			return redact.NewValue(v), "env", nil
		}
	}
	if !p.HasStoredKey {
		return redact.Value{}, "", nil
	}
	key, err := s.secrets.Get(ctx, keyAccount(p))
	if err != nil {
		return redact.Value{}, "", fmt.Errorf("read key of provider %s from %s: %w", p.Name, s.secrets.Backend(), err)
	}
	return redact.NewValue(key), s.secrets.Backend(), nil
}
