package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tensor/mlx/mlxload"
)

// Defaults of the local engine: half the machine's memory for models (the
// rest for the system and the user's apps; 8 GiB when the size is
// unknown), and models unused for 30 minutes unloaded.
const (
	defaultIdleTTL  = 30 * time.Minute
	fallbackBudget  = 8 << 30
	envMemoryBudget = "MODELBAR_MEMORY_BUDGET_MB"
	envBackend      = "MODELBAR_BACKEND"
)

// startEngine builds the local engine over the models dir and the Hugging
// Face cache, with the limits the settings ask for, and keeps applying
// them as they change.
func startEngine(ctx context.Context, dataDir string, cfg *config.Service, log *slog.Logger) (*engine.Engine, tensor.Backend, error) {
	b, reason, err := tensorBackend()
	if err != nil {
		return nil, nil, err
	}
	fallback, err := memoryBudget()
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	settings, err := cfg.Settings(ctx)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	budget, ttl := limits(settings, fallback)
	e := engine.New(engine.Options{
		Roots:         []modelfile.Root{modelfile.ModelsRoot(dataDir), modelfile.HFCacheRoot()},
		Budget:        budget,
		IdleTTL:       ttl,
		Backend:       b,
		BackendReason: reason,
		Log:           log,
	})
	cfg.OnSettings(func(s config.Settings) {
		budget, ttl := limits(s, fallback)
		e.SetLimits(budget, ttl)
		log.Info("local engine limits", "memory_budget_mb", budget>>20, "idle_ttl", ttl.String())
	})
	log.Info("local engine ready", "backend", b.Name(), "why", reason, "memory_budget_mb", budget>>20, "idle_ttl", ttl.String())
	return e, b, nil
}

// limits turns the settings into the engine's limits: a budget of 0 means
// the fallback (MODELBAR_MEMORY_BUDGET_MB or half the memory); a TTL of 0
// means 30 minutes and -1 never.
func limits(s config.Settings, fallback int64) (int64, time.Duration) {
	budget := fallback
	if s.MemoryBudgetMB > 0 {
		budget = s.MemoryBudgetMB << 20
	}
	ttl := defaultIdleTTL
	switch {
	case s.IdleTTLMinutes < 0:
		ttl = 0
	case s.IdleTTLMinutes > 0:
		ttl = time.Duration(s.IdleTTLMinutes) * time.Minute
	}
	return budget, ttl
}

// tensorBackend picks the compute backend and says why:
// MODELBAR_BACKEND=cpu forces the pure-Go CPU backend; otherwise libmlxc is
// probed, and the reason MLX does not run is reported (the MLX tensor
// backend itself is not part of this build yet).
func tensorBackend() (tensor.Backend, string, error) {
	switch v := os.Getenv(envBackend); v {
	case "cpu":
		return cpu.New(), envBackend + "=cpu", nil
	case "", "mlx":
		lib, err := mlxload.Open()
		if err != nil {
			if v == "mlx" {
				return nil, "", fmt.Errorf("%s=mlx: %w", envBackend, err)
			}
			return cpu.New(), err.Error(), nil
		}
		version := lib.Version()
		lib.Close()
		if v == "mlx" {
			return nil, "", fmt.Errorf("%s=mlx: libmlxc %s found, but this build has no MLX tensor backend yet", envBackend, version)
		}
		return cpu.New(), "libmlxc " + version + " found, but this build has no MLX tensor backend yet", nil
	default:
		return nil, "", fmt.Errorf("%s=%q: use cpu or mlx", envBackend, v)
	}
}

func memoryBudget() (int64, error) {
	if v := os.Getenv(envMemoryBudget); v != "" {
		mb, err := strconv.ParseInt(v, 10, 64)
		if err != nil || mb <= 0 {
			return 0, fmt.Errorf("%s=%q: want a positive number of MiB", envMemoryBudget, v)
		}
		return mb << 20, nil
	}
	if mem := physicalMemory(); mem > 0 {
		return mem / 2, nil
	}
	return fallbackBudget, nil
}
