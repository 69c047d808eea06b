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
	keyErrors  atomic.Pointer[keyErrors]    // why each unreadable provider key could not be read, as of the last publish; swapped under writeMu

	defaultsMu sync.Mutex       // guards defaults
	defaults   map[string]int64 // what an unset numeric setting means, where only the running app knows (settings_view.go)
}

// keyErrors maps the name of each provider whose configured key could not
// be read to a short reason (never the key). Published whole, never changed.
type keyErrors map[string]string

// New loads the configuration and publishes it. clients is filled and kept in
// sync; the caller closes it.
func New(ctx context.Context, st *store.Store, sec secrets.Store, clients *providers.Registry, log *slog.Logger) (*Service, error) {
	s := &Service{store: st, secrets: sec, clients: clients, log: log, getenv: lookupEnv}
	s.keyErrors.Store(&keyErrors{})
	if ok, problem := st.Integrity(); !ok {
		log.Error("database failed its integrity check; what can be read is used", "path", st.Path(), "problem", problem)
	}
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
	cfgs, keyErrs, err := s.clientConfigs(ctx)
	if err != nil {
		return err
	}
	s.keyErrors.Store(&keyErrs)
	s.clients.Sync(cfgs)
	s.table.Store(table)
	for _, f := range s.onChange {
		f()
	}
	return nil
}

// clientConfigs builds every provider's client configuration with its key.
// A provider whose configured key cannot be read gets KeyError, so it sends
// no request at all rather than one without its credential, and is listed
// in the returned keyErrors.
func (s *Service) clientConfigs(ctx context.Context) ([]providers.Config, keyErrors, error) {
	rows, err := s.store.ListProviders(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load providers: %w", err)
	}
	cfgs := make([]providers.Config, 0, len(rows))
	keyErrs := keyErrors{}
	for _, p := range rows {
		cfg := providers.Config{Name: p.Name, Type: providers.Type(p.Type), BaseURL: p.BaseURL, DefaultMaxTokens: p.DefaultMaxTokens,
			Responses: providers.ResponsesMode(p.Responses), API: providers.API(p.API), Preset: p.Preset, ExtraHeaders: p.ExtraHeaders,
			HealthCheck: time.Duration(p.HealthCheckSeconds) * time.Second}
		key, _, err := s.apiKey(ctx, p)
		if err != nil {
			// One unreadable key must not take the gateway down: the
			// provider stays, refusing requests with the reason.
			cfg.KeyError = keyErrorReason(s.secrets.Backend(), err)
			keyErrs[p.Name] = cfg.KeyError
			s.log.Error("provider key cannot be read; the provider sends no requests until it is set again",
				"provider", p.Name, "secrets", s.secrets.Backend(), "err", err)
		}
		cfg.APIKey = key
		cfgs = append(cfgs, cfg)
	}
	return cfgs, keyErrs, nil
}

// apiKey returns the key a provider uses and where it came from: the named
// environment variable when it is set and non-empty, else the secret store.
// A variable name the rules refuse (written before they existed) is
// ignored, with a warning. An error is the secret store's own.
func (s *Service) apiKey(ctx context.Context, p store.Provider) (redact.Value, string, error) {
	if p.APIKeyEnv != "" && !keyEnvName.MatchString(p.APIKeyEnv) {
		s.log.Warn("ignoring api_key_env: "+keyEnvRule+"; set it again", "provider", p.Name, "api_key_env", p.APIKeyEnv)
	}
	if v := s.envKey(p); v != "" {
		return redact.NewValue(v), "env", nil
	}
	if !p.HasStoredKey {
		return redact.Value{}, "", nil
	}
	key, err := s.secrets.Get(ctx, keyAccount(p))
	if err != nil {
		return redact.Value{}, "", err // the secret store's own words, which never quote a secret
	}
	return redact.NewValue(key), s.secrets.Backend(), nil
}

// envKey returns the value of p's api_key_env, or "" when it is unset,
// empty or a name the rules refuse.
func (s *Service) envKey(p store.Provider) string {
	if p.APIKeyEnv == "" || !keyEnvName.MatchString(p.APIKeyEnv) {
		return ""
	}
	return s.getenv(p.APIKeyEnv)
}
