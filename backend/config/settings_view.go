package config

import (
	"context"
	"maps"
)

// SettingsView is the settings as the admin API shows them: the stored
// values (0 for "the default"), and for each numeric setting its default
// and the value in force, so no one has to know what 0 means.
type SettingsView struct {
	Settings
	// Defaults is what each numeric setting is when left at 0 (for
	// responses_retention_days, when never set). memory_budget_mb's comes
	// from the machine's memory (or MODELBAR_MEMORY_BUDGET_MB).
	Defaults map[string]int64 `json:"defaults"`
	// Effective is the value in force: the setting, or its default when
	// it is 0. -1 stays -1 where it switches the feature off (never
	// retry, never unload, ...). first_byte_timeout_seconds is the limit
	// for streams; whole answers wait up to 600 s unless it is set.
	Effective map[string]int64 `json:"effective"`
}

// StaticDefaults are the defaults that do not depend on the machine. The
// gateway and the engine apply them where the setting is used; a test in
// each keeps them equal.
var StaticDefaults = map[string]int64{
	"idle_ttl_minutes":            30,
	"max_retries":                 2,
	"retry_backoff_ms":            250,
	"retry_backoff_max_ms":        4000,
	"request_timeout_seconds":     600,
	"connect_timeout_seconds":     10,
	"first_byte_timeout_seconds":  120,
	"stream_idle_timeout_seconds": 120,
	"cooldown_failures":           3,
	"cooldown_seconds":            30,
	"request_log_retention_days":  30,
	"body_read_timeout_seconds":   60,
	"max_connections":             1024,
	"max_inflight_requests":       512,
	"translation_budget_mb":       32,
	keyResponsesRetentionDays:     DefaultResponsesRetentionDays,
}

// SetDefault records the default of a numeric setting that only the
// running app knows: memory_budget_mb (from the machine's memory),
// max_connections (lowered by the process's file limit). Safe for
// concurrent use.
func (s *Service) SetDefault(key string, v int64) {
	s.defaultsMu.Lock()
	defer s.defaultsMu.Unlock()
	if s.defaults == nil {
		s.defaults = map[string]int64{}
	}
	s.defaults[key] = v
}

// Defaults returns the default of every numeric setting whose default is
// known.
func (s *Service) Defaults() map[string]int64 {
	out := maps.Clone(StaticDefaults)
	s.defaultsMu.Lock()
	defer s.defaultsMu.Unlock()
	maps.Copy(out, s.defaults)
	return out
}

// View is st with its defaults and the values in force.
func (s *Service) View(st Settings) SettingsView {
	defs := s.Defaults()
	eff := make(map[string]int64, len(intSettings))
	for _, is := range intSettings {
		v := *is.value(&st)
		if d, ok := defs[is.key]; ok && v == 0 && is.key != keyResponsesRetentionDays {
			v = d // for responses_retention_days, 0 means "keep until deleted"
		}
		eff[is.key] = v
	}
	return SettingsView{Settings: st, Defaults: defs, Effective: eff}
}

// SettingsView returns the current settings with their defaults and the
// values in force.
func (s *Service) SettingsView(ctx context.Context) (SettingsView, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return SettingsView{}, err
	}
	return s.View(st), nil
}
