package mlx

import (
	"errors"
	"fmt"
	"os"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// EnvDevice names the environment variable that picks the MLX device:
// "cpu" (MLX's CPU device) or "gpu" (Metal); unset or empty, the GPU when
// the library reports Metal and the CPU otherwise. A Metal build of MLX
// 0.31 reports Metal available wherever it loads (metal.cpp's
// is_available returns true), so where the GPU is missing or computes
// wrong results — a hosted CI runner's paravirtual device — only this
// variable gets MLX onto its CPU device.
const EnvDevice = "MODELBAR_MLX_DEVICE"

// DeviceFromEnv returns EnvDevice's value for Options.Device: "", "cpu" or
// "gpu"; any other value is an error naming the variable.
func DeviceFromEnv() (string, error) {
	switch v := os.Getenv(EnvDevice); v {
	case "", "cpu", "gpu":
		return v, nil
	default:
		return "", fmt.Errorf("%s=%q: use cpu or gpu (unset: the GPU when Metal is available)", EnvDevice, v)
	}
}

// chooseDevice is the device a backend runs on when requested is asked for
// ("" chooses) and metal is whether the library reports the Metal GPU.
func chooseDevice(requested string, metal bool) (string, error) {
	switch requested {
	case "":
		if metal {
			return "gpu", nil
		}
		return "cpu", nil
	case "gpu":
		if !metal {
			return "", errors.New("mlx: the Metal GPU device is not available")
		}
		return "gpu", nil
	case "cpu":
		return "cpu", nil
	default:
		return "", fmt.Errorf("mlx: device %q: want gpu or cpu", requested)
	}
}

// Options configure an MLX backend.
type Options struct {
	// Device is "gpu" (Metal), "cpu" (MLX's CPU device) or "" for the GPU
	// when Metal is available and the CPU otherwise (see EnvDevice and
	// DeviceFromEnv for the user's choice).
	Device string
	// MemoryLimit, when positive, caps MLX's memory in bytes (see
	// Backend.SetMemoryLimit).
	MemoryLimit int64
}

// NewBackend starts the MLX backend on lib as a tensor.Backend; in a build
// without cgo it fails.
func NewBackend(lib *Lib, opts Options) (tensor.Backend, error) { return newBackend(lib, opts) }
