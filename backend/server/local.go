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
	"github.com/modelbar/modelbar/backend/engine/tensor/mlx"
)

// Defaults of the local engine: half the machine's memory for models (the
// rest for the system and the user's apps; 8 GiB when the size is
// unknown), and models unused for 30 minutes unloaded.
const (
	defaultIdleTTL  = 30 * time.Minute
	fallbackBudget  = 8 << 30
	envMemoryBudget = "MODELBAR_MEMORY_BUDGET_MB"
	envBackend      = "MODELBAR_BACKEND"
	// rescanModels is how often the models dir and the Hugging Face cache
	// are looked at for models added or removed by hand, so the views
	// hear of them (a scan reads a few small files per model).
	rescanModels = 10 * time.Second
)

// startEngine builds the local engine over the models dir and the Hugging
// Face cache, with the limits the settings ask for, and keeps applying
// them as they change.
func startEngine(ctx context.Context, dataDir string, cfg *config.Service, log *slog.Logger) (*engine.Engine, tensor.Backend, error) {
	fallback, err := memoryBudget()
	if err != nil {
		return nil, nil, err
	}
	cfg.SetDefault("memory_budget_mb", fallback>>20) // what GET /api/settings shows for 0
	settings, err := cfg.Settings(ctx)
	if err != nil {
		return nil, nil, err
	}
	budget, ttl := limits(settings, fallback)
	b, reason, err := tensorBackend(os.Getenv(envBackend), budget)
	if err != nil {
		return nil, nil, err
	}
	e := engine.New(engine.Options{
		Roots:         []modelfile.Root{modelfile.ModelsRoot(dataDir), modelfile.HFCacheRoot()},
		Budget:        budget,
		IdleTTL:       ttl,
		Backend:       b,
		BackendReason: reason,
		Log:           log,
		Rescan:        rescanModels,
	})
	cfg.OnSettings(func(s config.Settings) {
		budget, ttl := limits(s, fallback)
		e.SetLimits(budget, ttl)
		if l, ok := b.(tensor.MemoryLimiter); ok {
			if err := l.SetMemoryLimit(deviceLimit(budget)); err != nil {
				log.Warn("tensor backend memory limit", "err", err)
			}
		}
		log.Info("local engine limits", "memory_budget_mb", budget>>20, "idle_ttl", ttl.String())
	})
	log.Info("local engine ready", "backend", b.Name(), "why", reason, "memory_budget_mb", budget>>20, "idle_ttl", ttl.String())
	return e, b, nil
}

// engineBudget is the engine's memory budget now, for the download
// manager's "fits" (the same rule as startEngine's).
func engineBudget(cfg *config.Service) func() int64 {
	return func() int64 {
		fallback, err := memoryBudget()
		if err != nil {
			fallback = fallbackBudget
		}
		s, err := cfg.Settings(context.Background())
		if err != nil {
			return fallback
		}
		budget, _ := limits(s, fallback)
		return budget
	}
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

// deviceLimit is the memory limit given to a backend that manages its own
// memory (MLX) for a model budget: the budget counts weights, and KV
// caches and activations need room beside them.
func deviceLimit(budget int64) int64 { return budget + budget/4 }

// tensorBackend picks the compute backend and says why: MODELBAR_BACKEND=cpu
// forces the pure-Go CPU backend and =mlx requires MLX; otherwise MLX runs
// when libmlxc loads (on the device MODELBAR_MLX_DEVICE names, else on the
// Metal GPU when there is one) and the CPU backend when it does not, the
// reason naming what was missing. A MODELBAR_MLX_DEVICE other than cpu or
// gpu is an error.
func tensorBackend(force string, budget int64) (tensor.Backend, string, error) {
	device, err := mlx.DeviceFromEnv()
	if err != nil {
		return nil, "", err
	}
	switch force {
	case "cpu":
		return cpu.New(), envBackend + "=cpu", nil
	case "", "mlx":
		b, why, err := mlxBackend(budget, device)
		if err == nil {
			return b, why, nil
		}
		if force == "mlx" {
			return nil, "", fmt.Errorf("%s=mlx: %w", envBackend, err)
		}
		return cpu.New(), err.Error(), nil
	default:
		return nil, "", fmt.Errorf("%s=%q: use cpu or mlx", envBackend, force)
	}
}

// mlxBackend loads libmlxc and starts the MLX backend on device (from
// MODELBAR_MLX_DEVICE), or on its best device when that is "".
func mlxBackend(budget int64, device string) (tensor.Backend, string, error) {
	lib, err := mlx.Open()
	if err != nil {
		return nil, "", err
	}
	b, err := mlx.NewBackend(lib, mlx.Options{Device: device, MemoryLimit: deviceLimit(budget)})
	if err != nil {
		lib.Close()
		if device != "" {
			err = fmt.Errorf("%s=%s: %w", mlx.EnvDevice, device, err)
		}
		return nil, "", fmt.Errorf("libmlxc %s at %s loaded, but the MLX backend did not start: %w", lib.Version(), lib.Path(), err)
	}
	why := loadedReason(lib.Version(), lib.Path(), lib.Skipped())
	if device != "" {
		why += fmt.Sprintf("; device %s from %s", device, mlx.EnvDevice)
	}
	return b, why, nil
}

// loadedReason is the status's reason when MLX runs: which library, and any
// found earlier in the search that did not load — a release whose own
// libmlxc (Contents/Frameworks, lib/) is broken says so even when a
// Homebrew one loads instead.
func loadedReason(version, path string, skipped []mlx.Attempt) string {
	why := fmt.Sprintf("libmlxc (MLX %s) loaded from %s", version, path)
	for _, a := range skipped {
		why += fmt.Sprintf("; skipped %s: %s", a.Path, a.Reason)
	}
	return why
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
