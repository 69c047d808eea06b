package mlx

import "github.com/modelbar/modelbar/backend/engine/tensor"

// Options configure an MLX backend.
type Options struct {
	// Device is "gpu" (Metal), "cpu" (MLX's CPU device) or "" for the GPU
	// when Metal is available and the CPU otherwise.
	Device string
	// MemoryLimit, when positive, caps MLX's memory in bytes (see
	// Backend.SetMemoryLimit).
	MemoryLimit int64
}

// NewBackend starts the MLX backend on lib as a tensor.Backend; in a build
// without cgo it fails.
func NewBackend(lib *Lib, opts Options) (tensor.Backend, error) { return newBackend(lib, opts) }
