package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
	"github.com/modelbar/modelbar/backend/secrets"
	"github.com/modelbar/modelbar/backend/store"
)

var lookupEnv = os.Getenv

// Provider is a provider as the admin API and the UI show it: never the key,
// only whether there is one and its last four characters.
type Provider struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	BaseURL    string `json:"base_url"`
	APIKeyEnv  string `json:"api_key_env"`
	HasAPIKey  bool   `json:"has_api_key"`
	APIKeyHint string `json:"api_key_hint"`
	KeySource  string `json:"api_key_source"` // "env", the secrets backend, or ""
	// DefaultMaxTokens is the max_tokens sent to an Anthropic-API provider
	// when an OpenAI client gives none (Anthropic requires one); 0 means
	// providers.DefaultMaxTokens.
	DefaultMaxTokens int       `json:"default_max_tokens"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// ProviderInput is a create-or-update request. A nil field keeps the current
// value (or takes the default on create); APIKey "" removes the stored key.
type ProviderInput struct {
	Type      *string `json:"type"`
	BaseURL   *string `json:"base_url"`
	APIKey    *string `json:"api_key"`
	APIKeyEnv *string `json:"api_key_env"`
	// DefaultMaxTokens: see Provider.
	DefaultMaxTokens *int `json:"default_max_tokens"`
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Providers lists the providers by name.
func (s *Service) Providers(ctx context.Context) ([]Provider, error) {
	rows, err := s.store.ListProviders(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Provider, len(rows))
	for i, p := range rows {
		out[i] = s.view(p)
	}
	return out, nil
}

// Provider returns one provider.
func (s *Service) Provider(ctx context.Context, name string) (Provider, error) {
	p, err := s.store.GetProvider(ctx, name)
	if err != nil {
		return Provider{}, notFound(err, "provider %q", name)
	}
	return s.view(p), nil
}

func (s *Service) view(p store.Provider) Provider {
	v := Provider{
		Name: p.Name, Type: p.Type, BaseURL: p.BaseURL, APIKeyEnv: p.APIKeyEnv,
		DefaultMaxTokens: p.DefaultMaxTokens, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	switch env := s.getenvIf(p.APIKeyEnv); {
	case env != "":
		v.HasAPIKey, v.APIKeyHint, v.KeySource = true, secrets.Hint(env), "env"
	case p.HasStoredKey:
		v.HasAPIKey, v.APIKeyHint, v.KeySource = true, p.KeyHint, s.secrets.Backend()
	}
	return v
}

func (s *Service) getenvIf(name string) string {
	if name == "" {
		return ""
	}
	return s.getenv(name)
}

// PutProvider creates or updates a provider. The key goes to the secret store
// first; if the database write then fails the previous key is put back, so
// the two never disagree.
func (s *Service) PutProvider(ctx context.Context, name string, in ProviderInput) (Provider, bool, error) {
	if err := router.ValidBackendName(name); err != nil {
		return Provider{}, false, &router.FieldError{Field: "name", Message: err.Error()}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(ctx)
	defer cancel()
	cur, err := s.store.GetProvider(ctx, name)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Provider{}, false, err
	}
	next, err := mergeProvider(cur, exists, name, in)
	if err != nil {
		return Provider{}, false, err
	}
	undo, err := s.applyKey(ctx, name, in.APIKey, &next)
	if err != nil {
		return Provider{}, false, err
	}
	created, err := s.store.PutProvider(ctx, next)
	if err != nil {
		undo()
		return Provider{}, false, err
	}
	if err := s.publish(ctx); err != nil {
		return Provider{}, false, err
	}
	saved, err := s.store.GetProvider(ctx, name)
	if err != nil {
		return Provider{}, false, err
	}
	return s.view(saved), created, nil
}

// mergeProvider applies in to the current provider (or a new one) and
// validates the result.
func mergeProvider(cur store.Provider, exists bool, name string, in ProviderInput) (store.Provider, error) {
	next := cur
	next.Name = name
	if in.Type == nil && !exists {
		return next, &router.FieldError{Field: "type", Message: `is required: "openai" or "anthropic"`}
	}
	if in.Type != nil {
		t, err := providers.ParseType(*in.Type)
		if err != nil {
			return next, &router.FieldError{Field: "type", Message: err.Error()}
		}
		// A type change moves a provider still on the old vendor default to
		// the new vendor's default.
		if exists && in.BaseURL == nil && cur.BaseURL == providers.DefaultBaseURL(providers.Type(cur.Type)) {
			next.BaseURL = ""
		}
		next.Type = string(t)
	}
	if in.BaseURL != nil {
		next.BaseURL = *in.BaseURL
	}
	if strings.TrimSpace(next.BaseURL) == "" {
		next.BaseURL = providers.DefaultBaseURL(providers.Type(next.Type))
	}
	u, err := providers.NormalizeBaseURL(next.BaseURL)
	if err != nil {
		return next, &router.FieldError{Field: "base_url", Message: err.Error()}
	}
	next.BaseURL = u
	if in.APIKeyEnv != nil {
		if *in.APIKeyEnv != "" && !envName.MatchString(*in.APIKeyEnv) {
			return next, &router.FieldError{Field: "api_key_env", Message: "must be an environment variable name (letters, digits, '_')"}
		}
		next.APIKeyEnv = *in.APIKeyEnv
	}
	if in.DefaultMaxTokens != nil {
		if n := *in.DefaultMaxTokens; n < 0 || n > 1_000_000 {
			return next, &router.FieldError{Field: "default_max_tokens", Message: "must be between 0 (modelbar's default) and 1000000"}
		}
		next.DefaultMaxTokens = *in.DefaultMaxTokens
	}
	if in.APIKey != nil {
		if err := checkKey(*in.APIKey); err != nil {
			return next, &router.FieldError{Field: "api_key", Message: err.Error()}
		}
	}
	return next, nil
}

// checkKey refuses keys that cannot travel in an HTTP header. The message
// never quotes the key.
func checkKey(k string) error {
	if strings.TrimSpace(k) != k {
		return fmt.Errorf("must not start or end with spaces")
	}
	if strings.IndexFunc(k, func(r rune) bool { return unicode.IsControl(r) || r > unicode.MaxASCII }) >= 0 {
		return fmt.Errorf("must be printable ASCII")
	}
	return nil
}

// applyKey stores, replaces or removes the provider's key as in asks and
// records it in next. It returns a function that restores the previous key.
func (s *Service) applyKey(ctx context.Context, name string, key *string, next *store.Provider) (undo func(), err error) {
	if key == nil {
		return func() {}, nil
	}
	prev, prevErr := s.secrets.Get(ctx, name)
	hadPrev := prevErr == nil
	if prevErr != nil && !errors.Is(prevErr, secrets.ErrNotFound) {
		return nil, fmt.Errorf("read current key of %s: %w", name, prevErr)
	}
	undo = func() {
		var err error
		if hadPrev {
			err = s.secrets.Set(context.WithoutCancel(ctx), name, prev)
		} else {
			err = s.secrets.Delete(context.WithoutCancel(ctx), name)
		}
		if err != nil {
			s.log.Error("restore provider key", "provider", name, "err", err)
		}
	}
	if *key == "" {
		err = s.secrets.Delete(ctx, name)
		next.HasStoredKey, next.KeyHint = false, ""
	} else {
		err = s.secrets.Set(ctx, name, *key)
		next.HasStoredKey, next.KeyHint = true, secrets.Hint(*key)
	}
	if err != nil {
		return nil, fmt.Errorf("store key of %s in %s: %w", name, s.secrets.Backend(), err)
	}
	return undo, nil
}

// DeleteProvider removes a provider and its key. A provider that routes still
// use is refused with a *ConflictError naming them.
func (s *Service) DeleteProvider(ctx context.Context, name string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(ctx)
	defer cancel()
	err := s.store.DeleteProvider(ctx, name)
	var inUse *store.InUseError
	switch {
	case errors.As(err, &inUse):
		return &ConflictError{Message: fmt.Sprintf("provider %q is used by routes %v: change or delete them first", name, inUse.RouteIDs)}
	case err != nil:
		return notFound(err, "provider %q", name)
	}
	if err := s.secrets.Delete(ctx, name); err != nil {
		s.log.Warn("delete provider key", "provider", name, "err", err)
	}
	return s.publish(ctx)
}

// probeTimeout bounds a connection test: a provider that has not listed its
// models by then is not usable from an editor either.
const probeTimeout = 15 * time.Second

// TestProvider asks the provider for its model list with the configured
// address and key.
func (s *Service) TestProvider(ctx context.Context, name string) (providers.Probe, error) {
	c, ok := s.clients.Get(name)
	if !ok {
		return providers.Probe{}, fmt.Errorf("provider %q: %w", name, ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	return c.Probe(ctx)
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf(format+": %w", append(args, ErrNotFound)...)
	}
	return err
}
