//go:build cgo && (linux || darwin)

package mlx

// FileLoads is how many tensors b read with MLX's safetensors loader.
func FileLoads(b *Backend) int64 { return b.fileLoads.Load() }
