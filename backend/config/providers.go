package config

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"strconv"
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
	APIKeyHint string `json:"api_key_hint"`   // last 4 characters of a stored key; "" for a key from the environment
	KeySource  string `json:"api_key_source"` // "env", the secrets backend, or ""
	// KeyUnreadable: a key is configured (HasAPIKey) but could not be read
	// when the configuration was last published, so the provider sends no
	// requests; KeyError says why. Setting the key again clears it.
	KeyUnreadable bool   `json:"key_unreadable"`
	KeyError      string `json:"key_error,omitempty"`
	// DefaultMaxTokens is the max_tokens sent to an Anthropic-API provider
	// when an OpenAI client gives none (Anthropic requires one); 0 means
	// providers.DefaultMaxTokens.
	DefaultMaxTokens int `json:"default_max_tokens"`
	// Responses says whether an OpenAI-API provider offers the Responses
	// API (POST /v1/responses): "auto" relays and, on a 404 or 405, learns
	// that it has none and translates to chat completions from then on;
	// "yes" always relays; "no" always translates. An api "responses"
	// provider is always relayed to, whatever this says.
	Responses string `json:"responses"`
	// API is the API the provider's models speak for chat: "" (the API of
	// its type) or "responses": an OpenAI-API provider whose models speak
	// only the Responses API (POST /v1/responses), which chat-completions
	// and Anthropic clients then reach through translation.
	API string `json:"api"`
	// Preset is the kind of server the provider is ("" generic, "vllm",
	// "sglang", "llamacpp", "ollama", "lmstudio", "modelbar"), whose
	// quirks modelbar handles (providers.Presets).
	Preset string `json:"preset"`
	// ExtraHeaders are sent on every request to the provider (model
	// lists, tests and health checks included), over a client header of
	// the same name. nil (JSON null) when there are none.
	ExtraHeaders map[string]string `json:"extra_headers"`
	// HealthCheckSeconds is the interval of the provider's health check:
	// 0 is none, else 5 to 3600.
	HealthCheckSeconds int       `json:"health_check_seconds"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
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
	// Responses: see Provider.
	Responses *string `json:"responses"`
	// API: see Provider.
	API *string `json:"api"`
	// Preset: see Provider. On create it gives the type and base URL
	// when they are not set.
	Preset *string `json:"preset"`
	// ExtraHeaders replaces the provider's extra headers ({} removes
	// them); see Provider.
	ExtraHeaders *map[string]string `json:"extra_headers"`
	// HealthCheckSeconds: see Provider.
	HealthCheckSeconds *int `json:"health_check_seconds"`
}

// MinHealthCheck and MaxHealthCheck bound health_check_seconds (0 is off):
// more often than every 5 s is load, not health; less often than hourly
// says nothing a request would not.
const (
	MinHealthCheck = 5
	MaxHealthCheck = 3600
)

// keyEnvName is what api_key_env may name: a variable that by its name
// holds a credential. Any other (HOME, PATH, ...) would send the
// environment to whatever host the provider points at.
var keyEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*_(KEY|TOKEN)$`)

// keyEnvRule says what keyEnvName accepts (_API_KEY ends in _KEY).
const keyEnvRule = "must be the name of an environment variable that ends in _KEY, _TOKEN or _API_KEY (letters, digits, '_'), such as GROQ_API_KEY"

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
		DefaultMaxTokens: p.DefaultMaxTokens, Responses: p.Responses, API: p.API, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
		Preset: p.Preset, ExtraHeaders: maps.Clone(p.ExtraHeaders), HealthCheckSeconds: p.HealthCheckSeconds,
	}
	switch {
	case s.envKey(p) != "":
		// No hint: the variable's value is not modelbar's to show.
		v.HasAPIKey, v.KeySource = true, "env"
	case p.HasStoredKey:
		v.HasAPIKey, v.APIKeyHint, v.KeySource = true, p.KeyHint, s.secrets.Backend()
		if reason, ok := (*s.keyErrors.Load())[p.Name]; ok {
			v.KeyUnreadable, v.KeyError = true, reason
		}
	}
	return v
}

// PutProvider creates or updates a provider.
//
// A change of base_url to another host drops the stored key and the
// api_key_env binding, unless the same change sets them (keepKeyWithHost).
//
// A new key goes under a fresh secret store account (see storeKey), which
// the provider row takes up in the same transaction that queues the account
// it replaces for deletion (store.PutProvider); that old secret is deleted
// once the row is committed. A crash at any point therefore leaves the row
// pointing at a secret that exists, and at worst an unused secret that
// secret_gc still names and the next start deletes (cleanUpKeys).
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
	if exists {
		s.keepKeyWithHost(cur, &next, in)
	}
	if err := s.storeKey(ctx, name, in.APIKey, &next); err != nil {
		return Provider{}, false, err
	}
	created, err := s.store.PutProvider(ctx, next)
	if err != nil {
		if next.KeyAccount != cur.KeyAccount {
			s.abandonKey(ctx, name, next.KeyAccount)
		}
		return Provider{}, false, err
	}
	if old := keyAccount(cur); old != keyAccount(next) {
		s.dropKey(ctx, old)
	}
	return s.published(ctx, name, created)
}

// published publishes the committed change to provider name and returns the
// provider as stored.
func (s *Service) published(ctx context.Context, name string, created bool) (Provider, bool, error) {
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
	curPreset, _ := providers.LookupPreset(cur.Preset)
	preset := curPreset
	if in.Preset != nil {
		p, ok := providers.LookupPreset(*in.Preset)
		if !ok {
			return next, &router.FieldError{Field: "preset", Message: fmt.Sprintf(`must be "" (generic) or one of %s`, quoteList(providers.PresetNames()))}
		}
		preset, next.Preset = p, p.Name
	}
	typ := in.Type
	if typ == nil && !exists && preset.Name != "" {
		t := string(preset.Type)
		typ = &t
	}
	if typ == nil && !exists {
		return next, &router.FieldError{Field: "type", Message: `is required: "openai" or "anthropic" (or set a preset)`}
	}
	if typ != nil {
		t, err := providers.ParseType(*typ)
		if err != nil {
			return next, &router.FieldError{Field: "type", Message: err.Error()}
		}
		next.Type = string(t)
	}
	// A change of type or preset moves a provider still on the old default
	// address to the new one.
	if exists && in.BaseURL == nil && cur.BaseURL == curPreset.DefaultBaseURL(providers.Type(cur.Type)) {
		next.BaseURL = ""
	}
	if in.BaseURL != nil {
		next.BaseURL = *in.BaseURL
	}
	if strings.TrimSpace(next.BaseURL) == "" {
		next.BaseURL = preset.DefaultBaseURL(providers.Type(next.Type))
	}
	u, err := providers.NormalizeBaseURL(next.BaseURL)
	if err != nil {
		return next, &router.FieldError{Field: "base_url", Message: err.Error()}
	}
	next.BaseURL = u
	if in.APIKeyEnv != nil {
		if *in.APIKeyEnv != "" && !keyEnvName.MatchString(*in.APIKeyEnv) {
			return next, &router.FieldError{Field: "api_key_env", Message: keyEnvRule}
		}
		next.APIKeyEnv = *in.APIKeyEnv
	}
	if in.DefaultMaxTokens != nil {
		if n := *in.DefaultMaxTokens; n < 0 || n > 1_000_000 {
			return next, &router.FieldError{Field: "default_max_tokens", Message: "must be between 0 (modelbar's default) and 1000000"}
		}
		next.DefaultMaxTokens = *in.DefaultMaxTokens
	}
	if in.Responses != nil {
		switch *in.Responses {
		case "auto", "yes", "no":
			next.Responses = *in.Responses
		default:
			return next, &router.FieldError{Field: "responses", Message: `must be "auto", "yes" or "no"`}
		}
	}
	if in.API != nil {
		if *in.API != "" && *in.API != "responses" {
			return next, &router.FieldError{Field: "api", Message: `must be "" (the API of the provider's type) or "responses"`}
		}
		next.API = *in.API
	}
	if next.API == "responses" && next.Type != string(providers.OpenAI) {
		return next, &router.FieldError{Field: "api", Message: `"responses" is for OpenAI-API providers (type "openai")`}
	}
	if in.APIKey != nil {
		if err := checkKey(*in.APIKey); err != nil {
			return next, &router.FieldError{Field: "api_key", Message: err.Error()}
		}
	}
	if in.ExtraHeaders != nil {
		if err := providers.CheckExtraHeaders(*in.ExtraHeaders); err != nil {
			return next, &router.FieldError{Field: "extra_headers", Message: err.Error()}
		}
		next.ExtraHeaders = maps.Clone(*in.ExtraHeaders)
	}
	if in.HealthCheckSeconds != nil {
		if n := *in.HealthCheckSeconds; n != 0 && (n < MinHealthCheck || n > MaxHealthCheck) {
			return next, &router.FieldError{Field: "health_check_seconds", Message: fmt.Sprintf("must be 0 (no health check) or between %d and %d", MinHealthCheck, MaxHealthCheck)}
		}
		next.HealthCheckSeconds = *in.HealthCheckSeconds
	}
	return next, nil
}

// quoteList is names quoted and joined with commas.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// keepKeyWithHost drops next's stored key and api_key_env binding when the
// change moves provider cur to another host (see sameHost), unless in
// supplies a new one: a key goes only to the host it was given for. The
// dropped key's secret is deleted as a replaced one is (PutProvider).
func (s *Service) keepKeyWithHost(cur store.Provider, next *store.Provider, in ProviderInput) {
	if sameHost(cur.BaseURL, next.BaseURL) {
		return
	}
	var dropped []string
	if in.APIKey == nil && next.HasStoredKey {
		next.HasStoredKey, next.KeyHint, next.KeyAccount = false, "", ""
		dropped = append(dropped, "stored key")
	}
	if in.APIKeyEnv == nil && next.APIKeyEnv != "" {
		next.APIKeyEnv = ""
		dropped = append(dropped, "api_key_env")
	}
	if len(dropped) > 0 {
		s.log.Info("provider moved to another host; its key stays behind", "provider", cur.Name,
			"from", cur.BaseURL, "to", next.BaseURL, "dropped", dropped)
	}
}

// sameHost reports whether a key given for base URL from may go to base
// URL to: the same host name (case-insensitive) and effective port, and no
// step down from https to http. Either URL unparsable: false.
func sameHost(from, to string) bool {
	f, err := url.Parse(from)
	if err != nil {
		return false
	}
	t, err := url.Parse(to)
	if err != nil {
		return false
	}
	if f.Scheme == "https" && t.Scheme != "https" {
		return false
	}
	fp, tp := effectivePort(f), effectivePort(t)
	return strings.EqualFold(f.Hostname(), t.Hostname()) && fp > 0 && fp == tp
}

// effectivePort is u's port, or its scheme's default; 0 when neither.
func effectivePort(u *url.URL) int {
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0
		}
		return n
	}
	switch u.Scheme {
	case "https":
		return 443
	case "http":
		return 80
	}
	return 0
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

// storeKey records in next the key change in asks. A removal only clears
// the key fields. A new key is written to the secret store under a fresh
// account, queued in secret_gc (committed) before the secret is written, so
// that it is deleted at the next start unless the provider row takes it up.
// On failure nothing is left behind, or only what the next start deletes.
func (s *Service) storeKey(ctx context.Context, name string, key *string, next *store.Provider) error {
	switch {
	case key == nil:
		return nil
	case *key == "":
		next.HasStoredKey, next.KeyHint, next.KeyAccount = false, "", ""
		return nil
	}
	account := newKeyAccount(name)
	if err := s.store.QueueSecretGC(ctx, account); err != nil {
		return fmt.Errorf("store key of %s: %w", name, err)
	}
	if err := s.secrets.Set(ctx, account, *key); err != nil {
		s.dropKey(ctx, account)
		return fmt.Errorf("store key of %s in %s: %w", name, s.secrets.Backend(), err)
	}
	next.HasStoredKey, next.KeyHint, next.KeyAccount = true, secrets.Hint(*key), account
	return nil
}

// newKeyAccount returns a secret store account no key has used before:
// "<provider>#<16 hex digits>".
func newKeyAccount(provider string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return provider + "#" + hex.EncodeToString(b)
}

// keyAccount returns the secret store account holding p's key, or "". A
// stored key without a key_account lives under the provider's name, where
// keys were kept before key_account existed.
func keyAccount(p store.Provider) string {
	if p.KeyAccount == "" && p.HasStoredKey {
		return p.Name
	}
	return p.KeyAccount
}

// abandonKey undoes storeKey after the write of provider name failed: it
// deletes the new account's secret unless the row turns out to use it (a
// commit that reported an error) or cannot be read; then secret_gc keeps
// the account, and the next start decides.
func (s *Service) abandonKey(ctx context.Context, name, account string) {
	p, err := s.store.GetProvider(context.WithoutCancel(ctx), name)
	switch {
	case err == nil && p.KeyAccount == account:
		return
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.log.Warn("new provider key left for the clean-up at the next start", "account", account, "err", err)
		return
	}
	s.dropKey(ctx, account)
}

// dropKey deletes account's secret, then its secret_gc entry. Neither
// failure is returned: the change it follows is decided, and an entry left
// in secret_gc has its secret deleted at the next start. Nothing is done
// for "".
func (s *Service) dropKey(ctx context.Context, account string) {
	if account == "" {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.secrets.Delete(ctx, account); err != nil && !errors.Is(err, secrets.ErrNotFound) {
		s.log.Warn("delete unused provider key; retried at the next start", "account", account, "err", err)
		return
	}
	if err := s.store.DropSecretGC(ctx, account); err != nil {
		s.log.Warn("forget deleted provider key", "account", account, "err", err)
	}
}

// cleanUpKeys deletes the secrets that secret_gc names and no provider
// refers to: keys written or replaced by changes a crash interrupted. It
// logs the accounts it deleted (never a key) and any failure, and is
// called by New before the first publish.
func (s *Service) cleanUpKeys(ctx context.Context) {
	accounts, err := s.store.ClaimSecretGC(ctx)
	if err != nil {
		s.log.Warn("clean up unused provider keys", "err", err)
		return
	}
	deleted := make([]string, 0, len(accounts))
	for _, a := range accounts {
		if err := s.secrets.Delete(ctx, a); err != nil && !errors.Is(err, secrets.ErrNotFound) {
			s.log.Warn("delete unused provider key; retried at the next start", "account", a, "err", err)
			continue
		}
		if err := s.store.DropSecretGC(ctx, a); err != nil {
			s.log.Warn("forget deleted provider key", "account", a, "err", err)
			continue
		}
		deleted = append(deleted, a)
	}
	if len(deleted) > 0 {
		s.log.Info("deleted unused provider keys left by an interrupted change", "accounts", deleted)
	}
}

// DeleteProvider removes a provider and its key. A provider that routes still
// use is refused with a *ConflictError naming them. The row goes first, and
// its key account into secret_gc in the same transaction; then the secret.
func (s *Service) DeleteProvider(ctx context.Context, name string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(ctx)
	defer cancel()
	cur, err := s.store.GetProvider(ctx, name)
	if err == nil {
		err = s.store.DeleteProvider(ctx, name)
	}
	var inUse *store.InUseError
	switch {
	case errors.As(err, &inUse):
		return &ConflictError{Message: fmt.Sprintf("provider %q is used by %s: change or delete them first", name, s.routeNames(name, inUse.RouteIDs))}
	case err != nil:
		return notFound(err, "provider %q", name)
	}
	s.dropKey(ctx, keyAccount(cur))
	return s.publish(ctx)
}

// ProbeTimeout bounds a connection test: a provider that has not listed its
// models by then is not usable from an editor either.
const ProbeTimeout = 15 * time.Second

// TestProvider asks the provider for its model list with the configured
// address and key.
func (s *Service) TestProvider(ctx context.Context, name string) (providers.Probe, error) {
	c, ok := s.clients.Get(name)
	if !ok {
		return providers.Probe{}, fmt.Errorf("provider %q: %w", name, ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	return c.Probe(ctx)
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf(format+": %w", append(args, ErrNotFound)...)
	}
	return err
}
