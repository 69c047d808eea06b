package config

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/modelbar/modelbar/backend/router"
)

// Settings are modelbar's own settings. A zero number means "the default";
// where a setting can be switched off, -1 does that.
type Settings struct {
	// MemoryBudgetMB bounds the memory of loaded local models; 0: half the
	// machine's memory (or MODELBAR_MEMORY_BUDGET_MB).
	MemoryBudgetMB int64 `json:"memory_budget_mb"`
	// IdleTTLMinutes unloads a local model unused this long; 0: 30 minutes.
	// -1 never unloads.
	IdleTTLMinutes int64 `json:"idle_ttl_minutes"`

	// MaxRetries is how many times a backend that failed retryably (429,
	// 5xx, connection error) before the first byte is tried again before
	// the next backend of the chain; 0: 2, -1: never.
	MaxRetries int64 `json:"max_retries"`
	// RetryBackoffMS is the first retry's wait, doubled (with jitter) each
	// retry up to RetryBackoffMaxMS; a Retry-After header overrides it.
	// 0: 250 ms and 4,000 ms.
	RetryBackoffMS    int64 `json:"retry_backoff_ms"`
	RetryBackoffMaxMS int64 `json:"retry_backoff_max_ms"`
	// RequestTimeoutSeconds bounds a request's whole time until its answer
	// starts, retries and failovers included; 0: 600.
	RequestTimeoutSeconds int64 `json:"request_timeout_seconds"`
	// ConnectTimeoutSeconds bounds one attempt's connection to a provider;
	// 0: 10.
	ConnectTimeoutSeconds int64 `json:"connect_timeout_seconds"`
	// FirstByteTimeoutSeconds bounds one attempt's wait for the answer to
	// start; 0: 120 for streams, 600 for whole answers.
	FirstByteTimeoutSeconds int64 `json:"first_byte_timeout_seconds"`
	// StreamIdleTimeoutSeconds ends a stream whose backend sends nothing
	// for this long; 0: 120, -1: never.
	StreamIdleTimeoutSeconds int64 `json:"stream_idle_timeout_seconds"`
	// CooldownFailures consecutive failures put a backend in cooldown for
	// CooldownSeconds, during which it is skipped; 0: 3 and 30 s; -1
	// failures: never.
	CooldownFailures int64 `json:"cooldown_failures"`
	CooldownSeconds  int64 `json:"cooldown_seconds"`

	// RequestLogRetentionDays keeps the request log this long; 0: 30.
	RequestLogRetentionDays int64 `json:"request_log_retention_days"`
	// RequireAPIKeys makes every /v1 request present an inference API key.
	RequireAPIKeys bool `json:"require_api_keys"`

	// BodyReadTimeoutSeconds: a request body must arrive within this long
	// (else 408); 0: 60.
	BodyReadTimeoutSeconds int64 `json:"body_read_timeout_seconds"`
	// MaxConnections bounds the open client connections (beyond it a new
	// one is answered 503 and closed); 0: 1024, or less when the process
	// may open fewer files.
	MaxConnections int64 `json:"max_connections"`
	// MaxInflightRequests bounds the requests served at once (beyond it
	// 503 with Retry-After); 0: 512.
	MaxInflightRequests int64 `json:"max_inflight_requests"`
	// TranslationBudgetMB bounds the request bytes decoded at once for
	// translation and the local engine (a request beyond it waits up to 5
	// seconds, then 503); 0: 32.
	TranslationBudgetMB int64 `json:"translation_budget_mb"`
	// AllowedOrigins are browser origins, besides loopback pages, that may
	// call /v1 with CORS: a LAN web app ("http://192.168.1.5:3000") or an
	// editor webview ("vscode-webview://..."). Origins of other schemes are
	// refused unless listed.
	AllowedOrigins []string `json:"allowed_origins"`

	// ResponsesStore keeps the /v1/responses answers modelbar makes itself
	// (translated or local) whose request does not say store: false, for
	// GET /v1/responses/{id} and previous_response_id; default true.
	ResponsesStore bool `json:"responses_store"`
	// ResponsesRetentionDays deletes stored responses older than this;
	// default 30, 0: kept until deleted.
	ResponsesRetentionDays int64 `json:"responses_retention_days"`
}

// DefaultResponsesRetentionDays is responses_retention_days until set.
const DefaultResponsesRetentionDays = 30

// SettingsInput changes some settings; a nil field keeps its value.
type SettingsInput struct {
	MemoryBudgetMB           *int64    `json:"memory_budget_mb"`
	IdleTTLMinutes           *int64    `json:"idle_ttl_minutes"`
	MaxRetries               *int64    `json:"max_retries"`
	RetryBackoffMS           *int64    `json:"retry_backoff_ms"`
	RetryBackoffMaxMS        *int64    `json:"retry_backoff_max_ms"`
	RequestTimeoutSeconds    *int64    `json:"request_timeout_seconds"`
	ConnectTimeoutSeconds    *int64    `json:"connect_timeout_seconds"`
	FirstByteTimeoutSeconds  *int64    `json:"first_byte_timeout_seconds"`
	StreamIdleTimeoutSeconds *int64    `json:"stream_idle_timeout_seconds"`
	CooldownFailures         *int64    `json:"cooldown_failures"`
	CooldownSeconds          *int64    `json:"cooldown_seconds"`
	RequestLogRetentionDays  *int64    `json:"request_log_retention_days"`
	RequireAPIKeys           *bool     `json:"require_api_keys"`
	BodyReadTimeoutSeconds   *int64    `json:"body_read_timeout_seconds"`
	MaxConnections           *int64    `json:"max_connections"`
	MaxInflightRequests      *int64    `json:"max_inflight_requests"`
	TranslationBudgetMB      *int64    `json:"translation_budget_mb"`
	AllowedOrigins           *[]string `json:"allowed_origins"`
	ResponsesStore           *bool     `json:"responses_store"`
	ResponsesRetentionDays   *int64    `json:"responses_retention_days"`
}

// intSetting is one numeric setting: its key (also its JSON name), its
// accepted range and where it lives in Settings and SettingsInput.
type intSetting struct {
	key      string
	min, max int64
	message  string
	value    func(*Settings) *int64
	input    func(*SettingsInput) *int64
}

var intSettings = []intSetting{
	{"memory_budget_mb", 0, 1 << 30, "must be 0 (the default) or a positive number of MiB",
		func(s *Settings) *int64 { return &s.MemoryBudgetMB }, func(s *SettingsInput) *int64 { return s.MemoryBudgetMB }},
	{"idle_ttl_minutes", -1, 1 << 30, "must be -1 (never), 0 (the default) or a number of minutes",
		func(s *Settings) *int64 { return &s.IdleTTLMinutes }, func(s *SettingsInput) *int64 { return s.IdleTTLMinutes }},
	{"max_retries", -1, 10, "must be -1 (never retry), 0 (the default, 2) or 1 to 10",
		func(s *Settings) *int64 { return &s.MaxRetries }, func(s *SettingsInput) *int64 { return s.MaxRetries }},
	{"retry_backoff_ms", 0, 60_000, "must be 0 (the default, 250) or up to 60000 ms",
		func(s *Settings) *int64 { return &s.RetryBackoffMS }, func(s *SettingsInput) *int64 { return s.RetryBackoffMS }},
	{"retry_backoff_max_ms", 0, 300_000, "must be 0 (the default, 4000) or up to 300000 ms",
		func(s *Settings) *int64 { return &s.RetryBackoffMaxMS }, func(s *SettingsInput) *int64 { return s.RetryBackoffMaxMS }},
	{"request_timeout_seconds", 0, 24 * 3600, "must be 0 (the default, 600) or a number of seconds up to a day",
		func(s *Settings) *int64 { return &s.RequestTimeoutSeconds }, func(s *SettingsInput) *int64 { return s.RequestTimeoutSeconds }},
	{"connect_timeout_seconds", 0, 600, "must be 0 (the default, 10) or up to 600 seconds",
		func(s *Settings) *int64 { return &s.ConnectTimeoutSeconds }, func(s *SettingsInput) *int64 { return s.ConnectTimeoutSeconds }},
	{"first_byte_timeout_seconds", 0, 24 * 3600, "must be 0 (the default) or a number of seconds up to a day",
		func(s *Settings) *int64 { return &s.FirstByteTimeoutSeconds }, func(s *SettingsInput) *int64 { return s.FirstByteTimeoutSeconds }},
	{"stream_idle_timeout_seconds", -1, 24 * 3600, "must be -1 (never), 0 (the default, 120) or a number of seconds",
		func(s *Settings) *int64 { return &s.StreamIdleTimeoutSeconds }, func(s *SettingsInput) *int64 { return s.StreamIdleTimeoutSeconds }},
	{"cooldown_failures", -1, 1000, "must be -1 (never cool down), 0 (the default, 3) or a number of failures",
		func(s *Settings) *int64 { return &s.CooldownFailures }, func(s *SettingsInput) *int64 { return s.CooldownFailures }},
	{"cooldown_seconds", 0, 24 * 3600, "must be 0 (the default, 30) or a number of seconds up to a day",
		func(s *Settings) *int64 { return &s.CooldownSeconds }, func(s *SettingsInput) *int64 { return s.CooldownSeconds }},
	{"request_log_retention_days", 0, 3650, "must be 0 (the default, 30) or a number of days up to 3650",
		func(s *Settings) *int64 { return &s.RequestLogRetentionDays }, func(s *SettingsInput) *int64 { return s.RequestLogRetentionDays }},
	{"body_read_timeout_seconds", 0, 3600, "must be 0 (the default, 60) or a number of seconds up to 3600",
		func(s *Settings) *int64 { return &s.BodyReadTimeoutSeconds }, func(s *SettingsInput) *int64 { return s.BodyReadTimeoutSeconds }},
	{"max_connections", 0, 1_000_000, "must be 0 (the default, 1024) or a number of connections",
		func(s *Settings) *int64 { return &s.MaxConnections }, func(s *SettingsInput) *int64 { return s.MaxConnections }},
	{"max_inflight_requests", 0, 1_000_000, "must be 0 (the default, 512) or a number of requests",
		func(s *Settings) *int64 { return &s.MaxInflightRequests }, func(s *SettingsInput) *int64 { return s.MaxInflightRequests }},
	{"translation_budget_mb", 0, 1 << 20, "must be 0 (the default, 32) or a number of MiB",
		func(s *Settings) *int64 { return &s.TranslationBudgetMB }, func(s *SettingsInput) *int64 { return s.TranslationBudgetMB }},
	// Unlike the others, 0 is not the default here but "keep until
	// deleted"; the default (30) is what an unset key reads as.
	{keyResponsesRetentionDays, 0, 3650, "must be 0 (keep until deleted) or a number of days up to 3650 (the default is 30)",
		func(s *Settings) *int64 { return &s.ResponsesRetentionDays }, func(s *SettingsInput) *int64 { return s.ResponsesRetentionDays }},
}

const keyAllowedOrigins = "allowed_origins"

const keyRequireAPIKeys = "require_api_keys"

const (
	keyResponsesStore         = "responses_store"
	keyResponsesRetentionDays = "responses_retention_days"
)

// Settings returns the current settings.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	all, err := s.store.Settings(ctx)
	if err != nil {
		return Settings{}, err
	}
	var out Settings
	for _, is := range intSettings {
		*is.value(&out), _ = strconv.ParseInt(all[is.key], 10, 64)
	}
	out.RequireAPIKeys = all[keyRequireAPIKeys] == "true"
	out.ResponsesStore = all[keyResponsesStore] != "false" // on until switched off
	if _, set := all[keyResponsesRetentionDays]; !set {
		out.ResponsesRetentionDays = DefaultResponsesRetentionDays
	}
	out.AllowedOrigins = []string{}
	if v := all[keyAllowedOrigins]; v != "" {
		if err := json.Unmarshal([]byte(v), &out.AllowedOrigins); err != nil {
			return Settings{}, fmt.Errorf("read setting %s: %w", keyAllowedOrigins, err)
		}
	}
	return out, nil
}

// PutSettings validates and stores a change, then tells the OnSettings
// listeners. Nothing is stored unless every field is valid.
func (s *Service) PutSettings(ctx context.Context, in SettingsInput) (Settings, error) {
	changes := map[string]string{}
	for _, is := range intSettings {
		v := is.input(&in)
		if v == nil {
			continue
		}
		if *v < is.min || *v > is.max {
			return Settings{}, &router.FieldError{Field: is.key, Message: is.message}
		}
		changes[is.key] = strconv.FormatInt(*v, 10)
	}
	if in.RequireAPIKeys != nil {
		changes[keyRequireAPIKeys] = strconv.FormatBool(*in.RequireAPIKeys)
	}
	if in.ResponsesStore != nil {
		changes[keyResponsesStore] = strconv.FormatBool(*in.ResponsesStore)
	}
	if in.AllowedOrigins != nil {
		origins, err := CanonicalOrigins(*in.AllowedOrigins)
		if err != nil {
			return Settings{}, err
		}
		b, _ := json.Marshal(origins)
		changes[keyAllowedOrigins] = string(b)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(ctx)
	defer cancel()
	if err := s.store.SetSettings(ctx, changes); err != nil {
		return Settings{}, fmt.Errorf("save settings: %w", err)
	}
	out, err := s.Settings(ctx)
	if err != nil {
		return Settings{}, err
	}
	for _, f := range s.onSettings {
		f(out)
	}
	return out, nil
}

// OnSettings registers f to run with the new settings after each change.
// f must not block.
func (s *Service) OnSettings(f func(Settings)) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.onSettings = append(s.onSettings, f)
}

// maxAllowedOrigins bounds the allowed_origins list.
const maxAllowedOrigins = 64

// CanonicalOrigins checks a list of browser origins (scheme://host[:port],
// no path, query or wildcard) and returns them lower-cased, each once. The
// error names the offending entry by index.
func CanonicalOrigins(in []string) ([]string, error) {
	if len(in) > maxAllowedOrigins {
		return nil, &router.FieldError{Field: keyAllowedOrigins, Message: fmt.Sprintf("lists %d origins; at most %d", len(in), maxAllowedOrigins)}
	}
	out := make([]string, 0, len(in))
	for i, o := range in {
		field := fmt.Sprintf("%s[%d]", keyAllowedOrigins, i)
		u, err := url.Parse(o)
		switch {
		case err != nil || len(o) > 200:
			return nil, &router.FieldError{Field: field, Message: "is not an origin (scheme://host[:port])"}
		case strings.Contains(o, "*"):
			return nil, &router.FieldError{Field: field, Message: "must name one origin: wildcards are not allowed"}
		case u.Scheme == "" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
			return nil, &router.FieldError{Field: field, Message: "must be scheme://host[:port], as a browser sends it in Origin (no path)"}
		}
		c := strings.ToLower(u.Scheme + "://" + u.Host)
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}
