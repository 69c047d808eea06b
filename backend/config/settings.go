package config

import (
	"context"
	"fmt"
	"strconv"

	"github.com/modelbar/modelbar/backend/router"
)

// Settings are modelbar's own settings. A zero value means "the default".
type Settings struct {
	// MemoryBudgetMB bounds the memory of loaded local models; 0: half the
	// machine's memory (or MODELBAR_MEMORY_BUDGET_MB).
	MemoryBudgetMB int64 `json:"memory_budget_mb"`
	// IdleTTLMinutes unloads a local model unused this long; 0: 30 minutes.
	// -1 never unloads.
	IdleTTLMinutes int64 `json:"idle_ttl_minutes"`
}

// SettingsInput changes some settings; a nil field keeps its value.
type SettingsInput struct {
	MemoryBudgetMB *int64 `json:"memory_budget_mb"`
	IdleTTLMinutes *int64 `json:"idle_ttl_minutes"`
}

const (
	keyMemoryBudget = "memory_budget_mb"
	keyIdleTTL      = "idle_ttl_minutes"
)

// Settings returns the current settings.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	all, err := s.store.Settings(ctx)
	if err != nil {
		return Settings{}, err
	}
	var out Settings
	out.MemoryBudgetMB, _ = strconv.ParseInt(all[keyMemoryBudget], 10, 64)
	out.IdleTTLMinutes, _ = strconv.ParseInt(all[keyIdleTTL], 10, 64)
	return out, nil
}

// PutSettings validates and stores a change, then tells the OnSettings
// listeners.
func (s *Service) PutSettings(ctx context.Context, in SettingsInput) (Settings, error) {
	if in.MemoryBudgetMB != nil && (*in.MemoryBudgetMB < 0 || *in.MemoryBudgetMB > 1<<30) {
		return Settings{}, &router.FieldError{Field: "memory_budget_mb", Message: "must be 0 (the default) or a positive number of MiB"}
	}
	if in.IdleTTLMinutes != nil && *in.IdleTTLMinutes < -1 {
		return Settings{}, &router.FieldError{Field: "idle_ttl_minutes", Message: "must be -1 (never), 0 (the default) or a number of minutes"}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(ctx)
	defer cancel()
	for key, v := range map[string]*int64{keyMemoryBudget: in.MemoryBudgetMB, keyIdleTTL: in.IdleTTLMinutes} {
		if v == nil {
			continue
		}
		if err := s.store.SetSetting(ctx, key, strconv.FormatInt(*v, 10)); err != nil {
			return Settings{}, fmt.Errorf("save setting %s: %w", key, err)
		}
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
