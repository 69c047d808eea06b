package server

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
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
// Face cache.
func startEngine(dataDir string, log *slog.Logger) (*engine.Engine, tensor.Backend, error) {
	b, err := tensorBackend()
	if err != nil {
		return nil, nil, err
	}
	budget, err := memoryBudget()
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	e := engine.New(engine.Options{
		Roots:   []modelfile.Root{modelfile.ModelsRoot(dataDir), modelfile.HFCacheRoot()},
		Budget:  budget,
		IdleTTL: defaultIdleTTL,
		Backend: b,
		Log:     log,
	})
	log.Info("local engine ready", "backend", b.Name(), "memory_budget_mb", budget>>20, "idle_ttl", defaultIdleTTL.String())
	return e, b, nil
}

// tensorBackend picks the compute backend: MODELBAR_BACKEND=cpu (or unset)
// is the pure-Go CPU backend; mlx is refused until the MLX backend exists.
func tensorBackend() (tensor.Backend, error) {
	switch v := os.Getenv(envBackend); v {
	case "", "cpu":
		return cpu.New(), nil
	default:
		return nil, fmt.Errorf("%s=%q: this build has only the cpu backend", envBackend, v)
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
